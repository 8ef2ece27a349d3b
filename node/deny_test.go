package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/node/deny"
)

// fail2banRegexes reads the failregex lines of the filter in docs/admin.md,
// with <HOST> standing for the address fail2ban would ban.
func fail2banRegexes(t *testing.T) []*regexp.Regexp {
	t.Helper()
	doc, err := os.ReadFile("../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	_, filter, ok := strings.Cut(string(doc), "failregex = ")
	if !ok {
		t.Fatal("docs/admin.md has no failregex")
	}
	filter, _, _ = strings.Cut(filter, "ignoreregex")
	var out []*regexp.Regexp
	for line := range strings.SplitSeq(filter, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(line), "<HOST>", `([0-9a-fA-F.:]+)`)))
		}
	}
	return out
}

// fail2banHost returns the address the documented filter finds in the
// logs, or "".
func fail2banHost(t *testing.T, logs string) string {
	t.Helper()
	for _, re := range fail2banRegexes(t) {
		if m := re.FindStringSubmatch(logs); m != nil {
			return m[1]
		}
	}
	return ""
}

func denied(t *testing.T, n *Node, reason string) int {
	v, _ := metric(t, n, "rendezvous_denied_connections_total", map[string]string{"reason": reason})
	return int(v)
}

// dialErr connects h to the node at only the addresses matching prefix,
// after forgetting any earlier dial failure.
func dialErr(t *testing.T, h host.Host, n *Node, prefix string) error {
	t.Helper()
	var addrs []ma.Multiaddr
	for _, a := range n.Host.Addrs() {
		if strings.HasPrefix(a.String(), prefix) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		t.Fatalf("node has no address starting with %s: %v", prefix, n.Host.Addrs())
	}
	h.Peerstore().ClearAddrs(n.Host.ID())
	return h.Connect(t.Context(), peer.AddrInfo{ID: n.Host.ID(), Addrs: addrs})
}

// refusedPeer dials the node from h and expects the deny list to refuse
// the peer. The dial itself may report success: with the muxer negotiated
// inside the handshake, the dialer has a connection before the node's gater
// sees the peer ID and closes it.
func refusedPeer(t *testing.T, h host.Host, n *Node) {
	t.Helper()
	before := denied(t, n, "peer")
	_ = dialErr(t, h, n, "/ip4/127.0.0.1/")
	testhost.Eventually(t, "the node refused the denied peer", func() bool { return denied(t, n, "peer") > before })
	testhost.Eventually(t, "the denied peer's connection closed", func() bool { return !connected(h, n.Host.ID()) })
}

// admitted dials the node from h and expects a working connection: a ping
// round trip, which a refused connection cannot carry.
func admitted(t *testing.T, h host.Host, n *Node) {
	t.Helper()
	if err := dialErr(t, h, n, "/ip4/127.0.0.1/"); err != nil {
		t.Fatalf("dial: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if res := <-ping.Ping(ctx, h, n.Host.ID()); res.Error != nil {
		t.Fatalf("ping after connecting: %v", res.Error)
	}
}

func TestDeniedPeerIsDisconnectedAndCannotRedialUntilLifted(t *testing.T) {
	n, logs := startLoggedNode(t, adminConfig(t))
	h := testhost.New(t)
	other := testhost.New(t)
	testhost.Connect(t, h, n.Host)
	testhost.Connect(t, other, n.Host)

	var out struct {
		Entry, Kind      string
		Added, Persisted bool
		Closed           int
	}
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"peer": "`+h.ID().String()+`"}`, &out); code != 201 {
		t.Fatalf("deny: %d", code)
	}
	if out.Entry != h.ID().String() || out.Kind != "peer" || !out.Added || !out.Persisted || out.Closed != 1 {
		t.Fatalf("deny reply %+v", out)
	}
	testhost.Eventually(t, "denied peer disconnected", func() bool { return !connected(h, n.Host.ID()) })
	refusedPeer(t, h, n)
	if !connected(other, n.Host.ID()) {
		t.Fatal("another peer lost its connection")
	}
	if host := fail2banHost(t, logs.String()); host != "127.0.0.1" || !strings.Contains(logs.String(), "reason=peer peer="+h.ID().String()) {
		t.Fatalf("the documented fail2ban filter finds %q in:\n%s", host, logs)
	}

	// Denying again changes nothing and says so.
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"peer": "`+h.ID().String()+`"}`, &out); code != 200 || out.Added {
		t.Fatalf("second deny: %d %+v", code, out)
	}
	var list struct {
		Entries []deny.Entry
		File    string
	}
	adminDo(t, n, "", "GET", "/v1/deny", "", &list)
	if len(list.Entries) != 1 || list.Entries[0] != (deny.Entry{Entry: h.ID().String(), Kind: "peer", Source: "file"}) {
		t.Fatalf("deny list %+v", list)
	}
	if code := adminDo(t, n, "", "DELETE", "/v1/deny/"+h.ID().String(), "", nil); code != 200 {
		t.Fatalf("undeny: %d", code)
	}
	admitted(t, h, n)
}

// TestDeniedSubnetIsRefusedAtAccept bans ::1 while the test's other peers
// use 127.0.0.1: a denied address must not cost a security handshake.
func TestDeniedSubnetIsRefusedAtAccept(t *testing.T) {
	c := adminConfig(t)
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws", "/ip6/::1/tcp/0/ws"}
	n := startNode(t, c)
	v6 := testhost.New(t)
	v4 := testhost.New(t)
	if err := dialErr(t, v6, n, "/ip6/::1/"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	if err := dialErr(t, v4, n, "/ip4/127.0.0.1/"); err != nil {
		t.Fatal(err)
	}

	var out struct{ Closed int }
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"subnet": "::1/128"}`, &out); code != 201 || out.Closed != 1 {
		t.Fatalf("deny: %d %+v", code, out)
	}
	testhost.Eventually(t, "peer on the denied subnet disconnected", func() bool { return !connected(v6, n.Host.ID()) })
	if err := dialErr(t, v6, n, "/ip6/::1/"); err == nil {
		t.Fatal("dial from the denied subnet succeeded")
	}
	// The refusal may be counted just after the dialer sees its connection
	// closed.
	testhost.Eventually(t, "the refusal at accept counted", func() bool { return denied(t, n, "subnet") >= 1 })
	// Refused at accept: the gater never saw a peer ID from it.
	if got := denied(t, n, "peer"); got != 0 {
		t.Fatalf("denied{peer} = %d, want 0", got)
	}
	if !connected(v4, n.Host.ID()) {
		t.Fatal("a peer outside the subnet lost its connection")
	}
	if err := dialErr(t, testhost.New(t), n, "/ip4/127.0.0.1/"); err != nil {
		t.Fatalf("a new peer outside the subnet: %v", err)
	}
}

func TestConfiguredDenyEntriesAreRefusedAndCannotBeLiftedThroughTheAPI(t *testing.T) {
	h := testhost.New(t)
	c := adminConfig(t)
	c.Deny.Peers = []string{h.ID().String()}
	n := startNode(t, c)
	refusedPeer(t, h, n)
	var e struct{ Error string }
	if code := adminDo(t, n, "", "DELETE", "/v1/deny/"+h.ID().String(), "", &e); code != 409 || !strings.Contains(e.Error, "deny.peers") {
		t.Fatalf("undeny a configured entry: %d %q", code, e.Error)
	}
}

func TestDenyFileEditedOnDiskIsReloaded(t *testing.T) {
	c := adminConfig(t)
	n := startNode(t, c)
	h := testhost.New(t)
	testhost.Connect(t, h, n.Host)

	// As an operator's editor would: a plain write, not the node's.
	body := `{"peers": ["` + h.ID().String() + `"], "subnets": ["192.0.2.0/24"]}`
	if err := os.WriteFile(c.Deny.File, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "peer in the edited file disconnected", func() bool { return !connected(h, n.Host.ID()) })
	refusedPeer(t, h, n)

	// A broken edit keeps the list in force.
	os.WriteFile(c.Deny.File, []byte(`{"peers": [`), 0o644)
	time.Sleep(3 * deny.ReloadInterval)
	refusedPeer(t, h, n)

	os.WriteFile(c.Deny.File, []byte(`{"peers": [], "subnets": []}`), 0o644)
	testhost.Eventually(t, "ban lifted by the edited file", func() bool { return !n.deny.Denied(h.ID()) })
	admitted(t, h, n)
}

func TestBanSurvivesANodeRestart(t *testing.T) {
	c := adminConfig(t)
	n := startNode(t, c)
	h := testhost.New(t)
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"peer": "`+h.ID().String()+`"}`, nil); code != 201 {
		t.Fatalf("deny: %d", code)
	}
	closeNode(n)

	l, err := config.LoadDenyFile(c.Deny.File)
	if err != nil || len(l.Peers) != 1 || l.Peers[0] != h.ID().String() {
		t.Fatalf("deny file %+v %v", l, err)
	}
	n2 := startNode(t, c)
	refusedPeer(t, h, n2)
	if err := dialErr(t, testhost.New(t), n2, "/ip4/127.0.0.1/"); err != nil {
		t.Fatalf("another peer after the restart: %v", err)
	}
}

func TestBansWithoutADenyFileAreNotPersisted(t *testing.T) {
	c := adminConfig(t)
	c.Deny.File = ""
	n := startNode(t, c)
	var out struct{ Persisted bool }
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"subnet": "192.0.2.0/24"}`, &out); code != 201 || out.Persisted {
		t.Fatalf("deny: %d %+v", code, out)
	}
}

// multistreamHello opens a WebSocket to the node's first address from
// localIP and starts the libp2p handshake; it reports whether the node
// answered (a multistream-select header) rather than closing the connection.
func multistreamHello(t *testing.T, n *Node, localIP string) bool {
	t.Helper()
	_, hostport, err := manet.DialArgs(n.Host.Addrs()[0].Decapsulate(ma.StringCast("/ws")))
	if err != nil {
		t.Fatal(err)
	}
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 10 * time.Second}
	d := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.DialContext(t.Context(), "ws://"+hostport+"/", nil)
	if err != nil {
		// The node may close the connection before the upgrade's reply is read.
		t.Logf("websocket from %s: %v", localIP, err)
		return false
	}
	defer c.Close()
	var msg []byte
	for _, line := range []string{"/multistream/1.0.0\n", "/noise\n"} {
		msg = binary.AppendUvarint(msg, uint64(len(line)))
		msg = append(msg, line...)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		return false
	}
	return bytes.Contains(data, []byte("/multistream/1.0.0"))
}

// TestDeniedIPv4SubnetIsRefusedBeforeAnyHandshake bans 127.0.0.2, which the
// test dials from, while its other peers use 127.0.0.1.
func TestDeniedIPv4SubnetIsRefusedBeforeAnyHandshake(t *testing.T) {
	n := startNode(t, adminConfig(t))
	if !multistreamHello(t, n, "127.0.0.2") {
		t.Fatal("the node did not answer an allowed address")
	}
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"subnet": "127.0.0.2/32"}`, nil); code != 201 {
		t.Fatalf("deny: %d", code)
	}
	if multistreamHello(t, n, "127.0.0.2") {
		t.Fatal("the node answered a denied address")
	}
	if got := denied(t, n, "subnet"); got != 1 {
		t.Fatalf("denied{subnet} = %d, want 1", got)
	}
	if !multistreamHello(t, n, "127.0.0.1") {
		t.Fatal("the node did not answer 127.0.0.1")
	}
	admitted(t, testhost.New(t), n)
}

// remoteOnly is the remote end of a connection being accepted.
type remoteOnly struct{ ma.Multiaddr }

func (r remoteOnly) LocalMultiaddr() ma.Multiaddr  { return nil }
func (r remoteOnly) RemoteMultiaddr() ma.Multiaddr { return r.Multiaddr }

func TestTheDocumentedFail2banFilterMatchesBothLogFormats(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		// The handlers NewLogger builds, without its process-wide side effect.
		var logs logBuffer
		var h slog.Handler = slog.NewTextHandler(&logs, nil)
		if format == "json" {
			h = slog.NewJSONHandler(&logs, nil)
		}
		d, err := deny.New(config.Deny{Subnets: []string{"2001:db8::/32"}}, slog.New(h), nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.InterceptAccept(remoteOnly{ma.StringCast("/ip6/2001:db8::7/tcp/4001")}) {
			t.Fatalf("%s: a denied subnet was accepted", format)
		}
		if host := fail2banHost(t, logs.String()); host != "2001:db8::7" {
			t.Errorf("%s: the filter finds %q in %q", format, host, logs.String())
		}
	}
}
