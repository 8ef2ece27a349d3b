package node

import (
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	forge "github.com/ipshipyard/p2p-forge/client"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testforge"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// autoTLSWait bounds each step of the issuing chain on a loaded machine.
const autoTLSWait = 2 * time.Minute

func autoTLSConfig(t testing.TB, f *testforge.Forge) config.Config {
	t.Helper()
	c := udpConfig(t)
	c.AutoTLS = f.AutoTLS()
	return c
}

// forgeAddr waits until the node advertises its libp2p.direct address.
func forgeAddr(t testing.TB, n *Node) ma.Multiaddr {
	t.Helper()
	deadline := time.Now().Add(autoTLSWait)
	for {
		for _, a := range n.Host.Addrs() {
			if strings.Contains(a.String(), "."+testforge.Domain+"/ws") {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s address after %s: %v", testforge.Domain, autoTLSWait, n.Host.Addrs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// servedCert does a verified TLS handshake with the forge address's name
// and returns the certificate's serial number.
func servedCert(t testing.TB, a ma.Multiaddr, roots *tls.Config) string {
	t.Helper()
	name, err := a.ValueForProtocol(ma.P_SNI)
	if err != nil {
		t.Fatalf("%s has no /sni: %v", a, err)
	}
	_, hostport, err := manet.DialArgs(a)
	if err != nil {
		t.Fatal(err)
	}
	cfg := roots.Clone()
	cfg.ServerName = name
	c, err := tls.Dial("tcp", hostport, cfg)
	if err != nil {
		t.Fatalf("verified TLS handshake with %s as %s: %v", hostport, name, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// forgeClient is a go-libp2p peer that trusts the test CA and dials the
// node at its libp2p.direct address only.
func forgeClient(t testing.TB, n *Node, addr ma.Multiaddr, roots *tls.Config) (host.Host, peer.AddrInfo) {
	t.Helper()
	h := testhost.NewWith(t, false, []any{ws.WithTLSClientConfig(roots)})
	info := peer.AddrInfo{ID: n.Host.ID(), Addrs: []ma.Multiaddr{addr}}
	if err := h.Connect(t.Context(), info); err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	conns := h.Network().ConnsToPeer(n.Host.ID())
	// go-libp2p reports a secure WebSocket connection as /wss.
	if len(conns) != 1 || !strings.HasSuffix(conns[0].RemoteMultiaddr().String(), "/wss") {
		t.Fatalf("connections %v, want one over secure WebSockets", conns)
	}
	return h, info
}

func joinOver(t testing.TB, h host.Host, info peer.AddrInfo, ns string) *wsstar.Client {
	t.Helper()
	if _, err := circuit.Reserve(t.Context(), h, info); err != nil {
		t.Fatalf("reserve: %v", err)
	}
	c, err := wsstar.Dial(t.Context(), h, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(t.Context(), ns, true, 0); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAutoTLSCertificateFromTheForgeServesSecureWebSocketsAndRenewsWithoutDroppingConnections(t *testing.T) {
	// A minute's validity: certmagic renews with a third of it left, while
	// the test runs.
	f := testforge.Start(t, testforge.Options{Validity: time.Minute})
	c := autoTLSConfig(t, f)
	start := time.Now()
	opts := append(f.ClientOptions(), forge.WithRenewCheckInterval(2*time.Second))
	printed := make(chan []ma.Multiaddr, 1)
	n, err := New(t.Context(), c, WithAutoTLSOptions(opts...), WithAutoTLSAddrs(func(a []ma.Multiaddr) {
		select {
		case printed <- a:
		default:
			t.Errorf("addresses handed out again: %v", a)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNode(n) })
	addr := forgeAddr(t, n)
	roots := &tls.Config{RootCAs: f.Issuer}
	first := servedCert(t, addr, roots)
	t.Logf("start to served certificate: %s (%s)", time.Since(start).Round(10*time.Millisecond), addr)
	withID := addr.String() + "/p2p/" + n.Host.ID().String()
	select {
	case p := <-printed:
		if len(p) != 1 || p[0].String() != withID {
			t.Fatalf("printed %v, want %s", p, withID)
		}
	case <-time.After(autoTLSWait):
		t.Fatal("the AutoTLS addresses were never handed out for printing")
	}
	if st := n.Status(); !slices.Contains(st.Addrs, withID) {
		t.Fatalf("status page addresses %v lack %s", st.Addrs, withID)
	}

	if !strings.Contains(addr.String(), "/tls/sni/127-0-0-1.") {
		t.Fatalf("forge address %s does not name 127.0.0.1", addr)
	}
	// /ws still on the same port.
	var plain ma.Multiaddr
	for _, a := range n.Host.Addrs() {
		if len(a) == 3 && a[2].Code() == ma.P_WS {
			plain = a
		}
	}
	if plain == nil || plain[1].Value() != addr[1].Value() {
		t.Fatalf("no /ws address on the forge address's port %s: %v", addr[1].Value(), n.Host.Addrs())
	}
	var doc struct{ Addrs []string }
	resp, err := http.Get(wsHTTPBase(t, n) + "/addrs.json")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || !strings.Contains(strings.Join(doc.Addrs, " "), addr.String()+"/p2p/"+n.Host.ID().String()) {
		t.Fatalf("/addrs.json %v (%v) lacks %s", doc.Addrs, err, addr)
	}
	if exp, _ := metric(t, n, "rendezvous_autotls_certificate_expiry_timestamp_seconds", nil); exp < float64(time.Now().Unix()) {
		t.Fatalf("certificate expiry metric %v is not in the future", exp)
	}

	a, info := forgeClient(t, n, addr, roots)
	b, _ := forgeClient(t, n, addr, roots)
	ca := joinOver(t, a, info, "autotls")
	joinOver(t, b, info, "autotls")
	nextEvent(t, ca, b.ID(), pb.PeerEvent_JOINED)
	held := a.Network().ConnsToPeer(n.Host.ID())[0]

	deadline := time.Now().Add(autoTLSWait)
	for servedCert(t, addr, roots) == first {
		if time.Now().After(deadline) {
			t.Fatalf("certificate %s not renewed after %s", first, autoTLSWait)
		}
		time.Sleep(time.Second)
	}
	if held.IsClosed() {
		t.Fatal("renewal closed a connection made with the old certificate")
	}
	s, err := a.NewStream(t.Context(), n.Host.ID(), "/ipfs/id/1.0.0")
	if err != nil {
		t.Fatalf("stream over the connection made before the renewal: %v", err)
	}
	_ = s.Reset()
	// A new peer connects with the renewed certificate and sees the others.
	nc, _ := forgeClient(t, n, addr, roots)
	cn := joinOver(t, nc, info, "autotls")
	memberOf(t, cn, a.ID())
	if r, _ := metric(t, n, "rendezvous_autotls_renewals_total", nil); r < 1 {
		t.Fatalf("rendezvous_autotls_renewals_total %v after a renewal", r)
	}
}

func TestAutoTLSForgeRefusingLeavesWebSocketsAndUDPTransportsServing(t *testing.T) {
	refusals := make(chan string, 16)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case refusals <- r.URL.Path:
		default:
		}
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(refusing.Close)
	c := udpConfig(t)
	c.AutoTLS.Enabled = true
	c.AutoTLS.RegistrationEndpoint = refusing.URL
	// Never reached: the client asks the forge first.
	c.AutoTLS.CADirectory = "https://127.0.0.1:9/dir"
	logs := &logBuffer{}
	n, err := New(t.Context(), c, WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		WithAutoTLSOptions(forge.WithAllowPrivateForgeAddrs()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNode(n) })
	select {
	case p := <-refusals:
		if p != forge.HealthCheckPath {
			t.Fatalf("first request to the forge: %s", p)
		}
	case <-time.After(autoTLSWait):
		t.Fatal("the node never asked the forge")
	}
	testhost.Eventually(t, "the refusal counted", func() bool {
		v, _ := metric(t, n, "rendezvous_autotls_failures_total", nil)
		return v >= 1
	})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "503") {
		t.Fatalf("the refusal is not logged with its cause:\n%s", logs)
	}

	for _, a := range n.Host.Addrs() {
		if strings.Contains(a.String(), "/sni/") {
			t.Fatalf("advertises %s without a certificate", a)
		}
	}
	h := testhost.NewClient(t)
	reserve(t, t.Context(), h, n)
	for _, u := range udpTransportsUnderTest {
		connectOver(t, testhost.NewClientOn(t, u.option), n, u)
	}
	if h.Network().Connectedness(n.Host.ID()) != network.Connected {
		t.Fatal("WebSocket peer lost its connection")
	}
}

func TestAutoTLSAndTheOwnCertificateShareOneListenerAndARestartServesTheStoredCertificate(t *testing.T) {
	f := testforge.Start(t, testforge.Options{})
	c := autoTLSConfig(t, f)
	dir := t.TempDir()
	certFile, keyFile := dir+"/cert.pem", dir+"/key.pem"
	own := writeSelfSigned(t, certFile, keyFile, 7)
	c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
	port := strconv.Itoa(freePort(t))
	c.Listen = []string{"/ip4/127.0.0.1/tcp/" + port + "/ws", "/ip4/127.0.0.1/tcp/" + port + "/tls/ws"}
	n, err := New(t.Context(), c, WithAutoTLSOptions(f.ClientOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNode(n) })
	addr := forgeAddr(t, n)
	if addr[1].Value() != port {
		t.Fatalf("forge address %s not on the node's port %s", addr, port)
	}
	servedCert(t, addr, &tls.Config{RootCAs: f.Issuer})
	// The same port, asked for another name, presents the own certificate.
	if got := servedSerial(t, addr[:2], own); got != 7 {
		t.Fatalf("own certificate's serial %d, want 7", got)
	}
	ownClient := testhost.NewWith(t, false, []any{ws.WithTLSClientConfig(&tls.Config{RootCAs: own, ServerName: "localhost"})})
	tlsWS, _ := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + port + "/tls/ws")
	if err := ownClient.Connect(t.Context(), peer.AddrInfo{ID: n.Host.ID(), Addrs: []ma.Multiaddr{tlsWS}}); err != nil {
		t.Fatalf("connect over /tls/ws with the own certificate: %v", err)
	}
	forgeClient(t, n, addr, &tls.Config{RootCAs: f.Issuer})
	plain := testhost.NewClient(t)
	wsAddr, _ := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + port + "/ws")
	if err := plain.Connect(t.Context(), peer.AddrInfo{ID: n.Host.ID(), Addrs: []ma.Multiaddr{wsAddr}}); err != nil {
		t.Fatalf("connect over /ws on the same port: %v", err)
	}
	serial := servedCert(t, addr, &tls.Config{RootCAs: f.Issuer})

	// A restart serves the stored certificate without the forge.
	closeNode(n)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	c.AutoTLS.RegistrationEndpoint = down.URL
	restarted, err := New(t.Context(), c, WithAutoTLSOptions(f.ClientOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNode(restarted) })
	if got := forgeAddr(t, restarted); !got.Equal(addr) {
		t.Fatalf("after a restart the forge address is %s, was %s", got, addr)
	}
	if got := servedCert(t, addr, &tls.Config{RootCAs: f.Issuer}); got != serial {
		t.Fatalf("after a restart the node serves certificate %s, not the stored %s", got, serial)
	}
}
