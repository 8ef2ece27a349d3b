package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/core/transport"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/node/transports"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// udpConfig is testConfig listening on all three transports on loopback:
// WebSockets on a free TCP port, WebRTC-direct and WebTransport sharing one
// free UDP port, as the defaults put them.
func udpConfig(t testing.TB) config.Config {
	t.Helper()
	c := testConfig(t)
	port := strconv.Itoa(freeUDPPort(t))
	c.Listen = append(c.Listen,
		"/ip4/127.0.0.1/udp/"+port+"/webrtc-direct",
		"/ip4/127.0.0.1/udp/"+port+"/quic-v1/webtransport")
	return c
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// udpTransport is one of the node's UDP transports as a client dials it.
type udpTransport struct {
	name   string
	option libp2p.Option
	code   int // the multiaddr protocol that marks its addresses
}

var udpTransportsUnderTest = []udpTransport{
	{"webrtc-direct", libp2p.Transport(libp2pwebrtc.New), ma.P_WEBRTC_DIRECT},
	{"webtransport", libp2p.Transport(webtransport.New), ma.P_WEBTRANSPORT},
}

// has reports whether a is an address of the transport.
func (u udpTransport) has(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(u.code)
	return err == nil
}

// nodeAddrsOf is the node's advertised addresses of one transport.
func nodeAddrsOf(t testing.TB, n *Node, u udpTransport) []ma.Multiaddr {
	t.Helper()
	var out []ma.Multiaddr
	for _, a := range n.Host.Addrs() {
		if u.has(a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		t.Fatalf("node advertises no %s address: %v", u.name, n.Host.Addrs())
	}
	return out
}

// connectOver connects h to n over the transport and checks the connection
// really is one.
func connectOver(t testing.TB, h host.Host, n *Node, u udpTransport) {
	t.Helper()
	if err := h.Connect(t.Context(), peer.AddrInfo{ID: n.Host.ID(), Addrs: nodeAddrsOf(t, n, u)}); err != nil {
		t.Fatalf("connect over %s: %v", u.name, err)
	}
	conns := h.Network().ConnsToPeer(n.Host.ID())
	if len(conns) != 1 || !u.has(conns[0].RemoteMultiaddr()) {
		t.Fatalf("connections to the node: %v, want one over %s", conns, u.name)
	}
}

func certhashes(a ma.Multiaddr) []string {
	var out []string
	for _, c := range a {
		if transports.IsCertHash(c) {
			out = append(out, c.Value())
		}
	}
	return out
}

func TestWebRTCDirectAndWebTransportShareOneUDPPortAndAdvertiseTheirCerthashes(t *testing.T) {
	c := udpConfig(t)
	n := startNode(t, c)
	want := map[int]int{ma.P_WEBRTC_DIRECT: 1, ma.P_WEBTRANSPORT: 2} // WebTransport advertises the current and the next certificate
	for _, u := range udpTransportsUnderTest {
		for _, a := range nodeAddrsOf(t, n, u) {
			if port, _ := a.ValueForProtocol(ma.P_UDP); !strings.Contains(c.Listen[1], "/udp/"+port+"/") {
				t.Errorf("%s listens on UDP %s, want the configured shared port (%s)", u.name, port, c.Listen[1])
			}
			if got := len(certhashes(a)); got != want[u.code] {
				t.Errorf("%s address %s has %d certhashes, want %d", u.name, a, got, want[u.code])
			}
		}
	}
	if conns := udpSockets(t, n); conns != 1 {
		t.Errorf("%d UDP sockets for two UDP listeners on one port, want 1", conns)
	}

	// /addrs.json and / list every advertised address in full.
	code, body := get(t, wsHTTPBase(t, n)+"/addrs.json")
	if code != http.StatusOK {
		t.Fatalf("/addrs.json: status %d", code)
	}
	var doc AddrsDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("/addrs.json: %v in %q", err, body)
	}
	var addrs []string
	for _, a := range n.Addrs() {
		addrs = append(addrs, a.String())
	}
	if doc.PeerID != n.Host.ID().String() || !slices.Equal(doc.Addrs, addrs) || len(addrs) != 3 {
		t.Fatalf("/addrs.json = %+v, want peer %s and %v", doc, n.Host.ID(), addrs)
	}
	_, page := get(t, wsHTTPBase(t, n)+"/")
	for _, a := range addrs {
		if !strings.Contains(page, a) {
			t.Errorf("/ lacks %s", a)
		}
	}
}

// wsHTTPBase is the http:// URL of the node's WebSocket port, whichever
// order the listeners report.
func wsHTTPBase(t testing.TB, n *Node) string {
	t.Helper()
	for _, a := range n.Host.Network().ListenAddresses() {
		if _, err := a.ValueForProtocol(ma.P_WS); err == nil {
			_, hostport, err := manet.DialArgs(a)
			if err != nil {
				t.Fatal(err)
			}
			return "http://" + hostport
		}
	}
	t.Fatal("no WebSocket listener")
	return ""
}

// udpSockets counts the IPv4 UDP sockets of this machine bound to the
// node's UDP listen ports, from /proc/net/udp (Linux only): two listeners
// sharing one socket show as one.
func udpSockets(t testing.TB, n *Node) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	ports := map[string]bool{}
	for _, a := range n.Host.Network().ListenAddresses() {
		if p, err := a.ValueForProtocol(ma.P_UDP); err == nil {
			pi, _ := strconv.Atoi(p)
			ports[fmt.Sprintf("%04X", pi)] = true
		}
	}
	count := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if _, port, ok := strings.Cut(f[1], ":"); ok && ports[port] {
			count++
		}
	}
	return count
}

// Every discovery and relay feature works for a peer that reaches the node
// over one UDP transport only, and for the peer that finds it.
func TestDiscoveryAndRelayWorkOverEachUDPTransport(t *testing.T) {
	n := startNode(t, udpConfig(t))
	for _, u := range udpTransportsUnderTest {
		t.Run(u.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			a := testhost.NewClientOn(t, u.option)
			serveEcho(a)
			connectOver(t, a, n, u)
			if _, err := reserveErr(ctx, a, n); err != nil {
				t.Fatalf("relay reservation over %s: %v", u.name, err)
			}
			// Like a browser, it registers its circuit address through the
			// node's address on that transport.
			circuit := ma.StringCast(nodeAddrsOf(t, n, u)[0].String() + "/p2p/" + n.Host.ID().String() + "/p2p-circuit")
			env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: a.ID(), Addrs: []ma.Multiaddr{circuit}}), a.Peerstore().PrivKey(a.ID()))
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rendezvous.NewClient(a, n.Host.ID()).RegisterEnvelope(ctx, "board-"+u.name, sealed, time.Hour); err != nil {
				t.Fatalf("rendezvous register over %s: %v", u.name, err)
			}
			live, err := wsstar.Dial(ctx, a, n.Host.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			if _, err := live.Join(ctx, "room-"+u.name, true, 0); err != nil {
				t.Fatalf("ws-star join over %s: %v", u.name, err)
			}

			// The second peer is on the same transport only.
			b := testhost.NewClientOn(t, u.option)
			connectOver(t, b, n, u)
			regs, _, err := rendezvous.NewClient(b, n.Host.ID()).Discover(ctx, "board-"+u.name, 10, nil)
			if err != nil || len(regs) != 1 || regs[0].Peer != a.ID() {
				t.Fatalf("discover over %s: %v, %v; want the registration of %s", u.name, regs, err, a.ID())
			}
			view, err := wsstar.Dial(ctx, b, n.Host.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer view.Close()
			if _, err := view.Join(ctx, "room-"+u.name, false, 0); err != nil {
				t.Fatal(err)
			}
			seen := memberOf(t, view, a.ID())
			if !slices.ContainsFunc(seen.Addrs, func(m ma.Multiaddr) bool { return u.has(m) }) {
				t.Fatalf("ws-star view shows %s at %v, none through the node's %s address", a.ID(), seen.Addrs, u.name)
			}
			// The circuit addresses of both, through the node's UDP
			// connections, reach it.
			for _, addrs := range [][]ma.Multiaddr{regs[0].Addrs, seen.Addrs} {
				if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: addrs}); err != nil {
					t.Fatalf("dial %s through the relay (%v): %v", a.ID(), addrs, err)
				}
				echoThrough(t, ctx, b, a.ID(), 64<<10)
				_ = b.Network().ClosePeer(a.ID())
			}
		})
	}
}

// memberOf reads view's messages until one lists p as a member.
func memberOf(t testing.TB, view *wsstar.Client, p peer.ID) wsstar.PeerEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-view.C():
			if u, ok := m.(*wsstar.Update); ok {
				for _, e := range u.Events {
					if e.Peer == p && e.Kind != pb.PeerEvent_LEFT {
						return e
					}
				}
			}
		case <-view.Done():
			t.Fatalf("view ended before %s showed: %v", p, view.Err())
		case <-timeout:
			t.Fatalf("%s not in the view after 30 s", p)
		}
	}
}

func TestWebRTCDirectCerthashIsStableAcrossRestartsWithTheSameKey(t *testing.T) {
	webrtc := udpTransportsUnderTest[0]
	c := udpConfig(t)
	first := startNode(t, c)
	before := nodeAddrsOf(t, first, webrtc)[0]
	if err := first.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Same key, new ports: the certhash is the same, so a browser holding
	// the old address only needs the new port.
	c2 := udpConfig(t)
	c2.Identity.KeyFile = c.Identity.KeyFile
	second := startNode(t, c2)
	after := nodeAddrsOf(t, second, webrtc)[0]
	if !slices.Equal(certhashes(before), certhashes(after)) {
		t.Fatalf("certhash changed across a restart with the same key: %s then %s", before, after)
	}
	port, _ := after.ValueForProtocol(ma.P_UDP)
	old := strings.Replace(before.String(), "/udp/"+mustUDPPort(t, before)+"/", "/udp/"+port+"/", 1)
	h := testhost.NewClientOn(t, webrtc.option)
	if err := h.Connect(t.Context(), peer.AddrInfo{ID: second.Host.ID(), Addrs: []ma.Multiaddr{ma.StringCast(old)}}); err != nil {
		t.Fatalf("dial the restarted node with the certhash from before the restart: %v", err)
	}

	other := startNode(t, udpConfig(t))
	if slices.Equal(certhashes(nodeAddrsOf(t, other, webrtc)[0]), certhashes(after)) {
		t.Fatal("two identity keys gave the same WebRTC-direct certhash")
	}
}

func mustUDPPort(t testing.TB, a ma.Multiaddr) string {
	t.Helper()
	p, err := a.ValueForProtocol(ma.P_UDP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNodeWithoutUDPListenAddressesHasNoUDPTransport(t *testing.T) {
	n := startNode(t, testConfig(t))
	sw := n.Host.Network().(interface {
		TransportForListening(ma.Multiaddr) transport.Transport
	})
	for _, s := range []string{"/ip4/127.0.0.1/udp/1/webrtc-direct", "/ip4/127.0.0.1/udp/1/quic-v1/webtransport"} {
		if tpt := sw.TransportForListening(ma.StringCast(s)); tpt != nil {
			t.Errorf("a WebSocket-only node has a transport for %s", s)
		}
	}
	for _, a := range n.Host.Network().ListenAddresses() {
		if _, err := a.ValueForProtocol(ma.P_UDP); err == nil {
			t.Errorf("a WebSocket-only node listens on %s", a)
		}
	}
}

// nonLoopbackIPv4 is an address of this machine outside the loopback range,
// which the per-IP caps exempt.
func nonLoopbackIPv4(t testing.TB) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			return ipn.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to connect from (loopback is exempt from per-IP caps)")
	return ""
}

func TestPerIPConnectionCapAppliesToWebTransportPeers(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	u := udpTransportsUnderTest[1]
	c := testConfig(t)
	c.Listen = append(c.Listen, "/ip4/"+ip+"/udp/0/quic-v1/webtransport")
	c.AnnouncePrivate = true
	c.Resources.ConnsPerIP = 2
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var refused int
	for range 4 {
		h := testhost.NewClientOn(t, u.option)
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.Host.ID(), Addrs: nodeAddrsOf(t, n, u)}); err != nil {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d of 4 WebTransport connections from %s refused with resources.conns_per_ip = 2, want 2", refused, ip)
	}
	waitRefusal(t, n, "resources.conns_per_ip")
}

// A WebRTC-direct client on this machine arrives from 127.0.0.1 whatever
// address it dials (go-libp2p's dialer offers loopback ICE candidates and
// the first to answer wins), and loopback is exempt from per-IP caps. So
// this checks the two halves: the node's WebRTC-direct connections are
// accounted by the node's resource manager, and that manager caps per IP
// the UDP endpoint form the WebRTC-direct listener hands it for each
// connection attempt (/ip4/<ip>/udp/<port>, from the first STUN packet).
func TestPerIPConnectionCapAppliesToWebRTCDirectPeers(t *testing.T) {
	c := udpConfig(t)
	c.Capacity.Peers = 100
	c.Resources.ConnsPerIP = 2
	n := startNode(t, c)
	u := udpTransportsUnderTest[0]
	before := gauge(t, n, "rendezvous_resources_used", "system", "connections")
	for range 3 {
		connectOver(t, testhost.NewClientOn(t, u.option), n, u)
	}
	if got := gauge(t, n, "rendezvous_resources_used", "system", "connections"); got != before+3 {
		t.Fatalf("system connections = %v after 3 WebRTC-direct connects, want %v", got, before+3)
	}

	rm := n.Host.Network().ResourceManager()
	for i := range 3 {
		scope, err := rm.OpenConnection(network.DirInbound, false, ma.StringCast(fmt.Sprintf("/ip4/203.0.113.7/udp/%d", 4000+i)))
		if i < 2 {
			if err != nil {
				t.Fatalf("connection %d from one IP refused under a cap of 2: %v", i+1, err)
			}
			defer scope.Done()
			continue
		}
		if err == nil {
			scope.Done()
			t.Fatal("third UDP connection from one IP accepted with resources.conns_per_ip = 2")
		}
	}
	waitRefusal(t, n, "resources.conns_per_ip")
}

func waitRefusal(t *testing.T, n *Node, limit string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for refusals(t, n, limit) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal counted under %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConnectionManagerKeepsReservedUDPPeersOverHighWatermark(t *testing.T) {
	c := udpConfig(t)
	c.ConnManager.LowWater, c.ConnManager.HighWater = 2, 4
	c.ConnManager.GracePeriod = 0
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var reserved, plain []host.Host
	for i := range 8 {
		u := udpTransportsUnderTest[i%2]
		h := testhost.NewClientOn(t, u.option)
		connectOver(t, h, n, u)
		if i < 4 {
			if _, err := reserveErr(ctx, h, n); err != nil {
				t.Fatalf("reserve over %s: %v", u.name, err)
			}
			reserved = append(reserved, h)
		} else {
			plain = append(plain, h)
		}
	}
	trimKeepsReserved(t, ctx, n, reserved, plain, func(i int) string {
		return fmt.Sprintf("reserved peer %d (%s)", i, udpTransportsUnderTest[i%2].name)
	})
}

func TestAnnouncedUDPAddressesGetTheirCerthashes(t *testing.T) {
	c := udpConfig(t)
	port := mustUDPPort(t, ma.StringCast(c.Listen[1]))
	c.Announce = []string{
		"/dns4/rdv.example.com/tcp/443/wss",
		"/ip4/203.0.113.5/udp/" + port + "/webrtc-direct",
		"/ip4/203.0.113.5/udp/" + port + "/quic-v1/webtransport",
	}
	n := startNode(t, c)
	for _, u := range udpTransportsUnderTest {
		a := nodeAddrsOf(t, n, u)[0]
		if ip, _ := a.ValueForProtocol(ma.P_IP4); ip != "203.0.113.5" || len(certhashes(a)) == 0 {
			t.Errorf("announced %s address advertised as %s, want 203.0.113.5 with its certhash", u.name, a)
		}
	}
}

func TestUnbindableUDPListenAddressFailsStart(t *testing.T) {
	busy, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.LocalAddr().(*net.UDPAddr).Port)
	for _, suffix := range []string{"/webrtc-direct", "/quic-v1/webtransport"} {
		c := testConfig(t)
		bad := "/ip4/127.0.0.1/udp/" + port + suffix
		c.Listen = append(c.Listen, bad)
		_, err := New(t.Context(), c)
		if err == nil {
			t.Fatalf("start succeeded although UDP port %s was taken", port)
		}
		if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("error %q should name %s and the cause", err, bad)
		}
	}
}
