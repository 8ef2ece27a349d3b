package node

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/legacy"
)

// legacyBase is the URL an old client is given for the node's WebSocket
// listener: "ws://127.0.0.1:<port>" (or wss).
func legacyBase(t testing.TB, n *Node) string {
	t.Helper()
	for _, a := range n.Host.Network().ListenAddresses() {
		scheme := "ws"
		if _, err := a.ValueForProtocol(ma.P_TLS); err == nil {
			scheme = "wss"
		} else if _, err := a.ValueForProtocol(ma.P_WS); err != nil {
			continue
		}
		_, hostPort, err := manet.DialArgs(a)
		if err != nil {
			t.Fatal(err)
		}
		return scheme + "://" + hostPort
	}
	t.Fatal("node has no WebSocket listener")
	return ""
}

// oldPeer is an old client: a key and its ws-star address on the node.
type oldPeer struct {
	c    *legacy.Client
	key  crypto.PrivKey
	id   peer.ID
	addr string
}

func newOldPeer(t testing.TB, n *Node, keyType int) *oldPeer {
	t.Helper()
	bits := -1
	if keyType == crypto.RSA {
		bits = 2048
	}
	k, _, err := crypto.GenerateKeyPair(keyType, bits)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	base := legacyBase(t, n)
	hostPort := base[strings.Index(base, "//")+2:]
	host, port, _ := net.SplitHostPort(hostPort)
	ws := "ws"
	if strings.HasPrefix(base, "wss") {
		ws = "wss"
	}
	return &oldPeer{key: k, id: id, addr: fmt.Sprintf("/ip4/%s/tcp/%s/%s/p2p-websocket-star/ipfs/%s", host, port, ws, id)}
}

func (p *oldPeer) connect(t testing.TB, n *Node, tlsConf *tls.Config) {
	t.Helper()
	c, err := legacy.DialClient(t.Context(), legacyBase(t, n), tlsConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p.c = c
}

func pubHex(t testing.TB, k crypto.PrivKey) string {
	b, err := crypto.MarshalPublicKey(k.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func call(t testing.TB, c *legacy.Client, name string, args ...any) []json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := c.Call(ctx, name, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func errText(res []json.RawMessage) string {
	if len(res) == 0 || string(res[0]) == "null" {
		return ""
	}
	var s string
	_ = json.Unmarshal(res[0], &s)
	return s
}

// join runs ss-join with the crypto challenge, as libp2p-websocket-star
// does, and returns the other peers the node listed.
func (p *oldPeer) join(t testing.TB) []string {
	t.Helper()
	res := call(t, p.c, "ss-join", p.addr, pubHex(t, p.key))
	if e := errText(res); e != "" {
		t.Fatalf("ss-join: %s", e)
	}
	var nonce string
	if len(res) < 2 || json.Unmarshal(res[1], &nonce) != nil || nonce == "" {
		t.Fatalf("ss-join: no nonce in %s", res)
	}
	sig, err := p.key.Sign([]byte(nonce))
	if err != nil {
		t.Fatal(err)
	}
	res = call(t, p.c, "ss-join", p.addr, hex.EncodeToString(sig))
	if e := errText(res); e != "" {
		t.Fatalf("ss-join with the signature: %s", e)
	}
	var others []string
	if len(res) < 3 || json.Unmarshal(res[2], &others) != nil {
		t.Fatalf("ss-join: no peer list in %s", res)
	}
	return others
}

// next returns the next event of c named name, skipping others.
func next(t testing.TB, c *legacy.Client, name string) legacy.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-c.Events:
			if e.Name == name {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

func counterValue(t testing.TB, n *Node, name, label, value string) float64 {
	t.Helper()
	fams, err := n.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
			if label == "" {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOldClientsJoinThroughTheChallengeFindEachOtherOnceAndRelayADial(t *testing.T) {
	n := startNode(t, testConfig(t))
	ns := legacy.DefaultNamespace
	a, b, c := newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.RSA), newOldPeer(t, n, crypto.Ed25519)
	for _, p := range []*oldPeer{a, b, c} {
		p.connect(t, n, nil)
	}

	if others := a.join(t); len(others) != 0 {
		t.Fatalf("first joiner listed %v", others)
	}
	if others := b.join(t); len(others) != 1 || others[0] != a.addr {
		t.Fatalf("second joiner listed %v, want [%s]", others, a.addr)
	}
	if e := next(t, a.c, "ws-peer"); e.Str(0) != b.addr {
		t.Fatalf("a was told of %q, want b", e.Str(0))
	}
	c.join(t)
	// No re-broadcast: the next ws-peer a sees is c, not b again.
	if e := next(t, a.c, "ws-peer"); e.Str(0) != c.addr {
		t.Fatalf("a was told of %q, want c", e.Str(0))
	}
	if e := next(t, b.c, "ws-peer"); e.Str(0) != c.addr {
		t.Fatalf("b was told of %q, want c", e.Str(0))
	}
	eventually(t, "three registry members", func() bool { return n.Registry.Members(ns) == 3 })
	reg, ok := n.Registry.Get(ns, b.id)
	if !ok || len(reg.Addrs) != 1 || reg.Addrs[0].String() != strings.Replace(b.addr, "/ipfs/", "/p2p/", 1) {
		t.Fatalf("registry holds %v for b", reg.Addrs)
	}

	// a dials b, as libp2p-websocket-star does over socket.io-pull-stream.
	dialed := make(chan []json.RawMessage, 1)
	go func() {
		res, _ := a.c.Call(t.Context(), "ss-dial", a.addr, b.addr, "d1")
		dialed <- res
	}()
	next(t, a.c, "socket.io-pull-stream.accept.d1.dialer")
	in := next(t, b.c, "ss-incomming")
	if in.Str(0) != "d1" || in.Str(1) != a.addr || in.ID < 0 {
		t.Fatalf("ss-incomming %v", in)
	}
	if err := b.c.Emit("socket.io-pull-stream.accept.d1.dialer"); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Ack(in.ID); err != nil {
		t.Fatal(err)
	}
	next(t, b.c, "socket.io-pull-stream.accept.d1.listener")
	if res := <-dialed; errText(res) != "" {
		t.Fatalf("ss-dial: %s", errText(res))
	}
	if err := a.c.Emit("socket.io-pull-stream.accept.d1.listener"); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Emit("socket.io-pull-stream.queue.d1.dialer", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if e := next(t, b.c, "socket.io-pull-stream.queue.d1.dialer"); string(e.Bin[0]) != "hello" {
		t.Fatalf("b received %q", e.Bin[0])
	}
	if err := b.c.Emit("socket.io-pull-stream.queue.d1.listener", []byte("HELLO")); err != nil {
		t.Fatal(err)
	}
	if e := next(t, a.c, "socket.io-pull-stream.queue.d1.listener"); string(e.Bin[0]) != "HELLO" {
		t.Fatalf("a received %q", e.Bin[0])
	}
	if err := a.c.Emit("socket.io-pull-stream.error.d1.dialer", true); err != nil {
		t.Fatal(err)
	}
	if e := next(t, b.c, "socket.io-pull-stream.error.d1.dialer"); string(e.Args[0]) != "true" {
		t.Fatalf("b saw the end as %s", e.Args[0])
	}
	if got := counterValue(t, n, "rendezvous_legacy_relayed_bytes_total", "", ""); got != 10 {
		t.Errorf("relayed bytes counted %v, want 10", got)
	}

	// A disconnect is a leave of every address of the socket.
	_ = a.c.Close()
	eventually(t, "a to leave the registry", func() bool { _, ok := n.Registry.Get(ns, a.id); return !ok })
	if got := n.Registry.Members(ns); got != 2 {
		t.Fatalf("%d members after a left, want 2", got)
	}
	// An explicit leave too.
	if err := b.c.Emit("ss-leave", b.addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to leave the registry", func() bool { _, ok := n.Registry.Get(ns, b.id); return !ok })
}

func TestAWrongKeyOrSignatureIsRefusedWithTheOldServersErrorText(t *testing.T) {
	n := startNode(t, testConfig(t))
	a, other := newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.RSA)
	a.connect(t, n, nil)

	if got := errText(call(t, a.c, "ss-join", a.addr, "")); got != "Crypto Challenge required but no Id provided" {
		t.Errorf("no key: %q", got)
	}
	if got := errText(call(t, a.c, "ss-join", a.addr, pubHex(t, other.key))); got != "Id is not matching" {
		t.Errorf("another peer's key: %q", got)
	}
	if got := errText(call(t, a.c, "ss-join", a.addr, "zz")); got != "Crypto error" {
		t.Errorf("not a key: %q", got)
	}
	res := call(t, a.c, "ss-join", a.addr, pubHex(t, a.key))
	if errText(res) != "" {
		t.Fatalf("challenge: %s", res)
	}
	sig, _ := other.key.Sign([]byte("not the nonce"))
	if got := errText(call(t, a.c, "ss-join", a.addr, hex.EncodeToString(sig))); got != "Signature Invalid" {
		t.Errorf("wrong signature: %q", got)
	}
	if got := counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "bad_signature"); got != 1 {
		t.Errorf("bad_signature refusals %v, want 1", got)
	}
	if got := n.Registry.Members(legacy.DefaultNamespace); got != 0 {
		t.Fatalf("%d members after refused joins", got)
	}
	// The challenge still works afterwards.
	a.join(t)
}

func TestWithoutTheChallengeAJoinIsAnsweredAtOnce(t *testing.T) {
	c := testConfig(t)
	c.Legacy.CryptoChallenge = false
	n := startNode(t, c)
	a := newOldPeer(t, n, crypto.Ed25519)
	a.connect(t, n, nil)
	res := call(t, a.c, "ss-join", a.addr, "")
	if errText(res) != "" || len(res) != 3 || string(res[1]) != "null" || string(res[2]) != "[]" {
		t.Fatalf("ss-join answered %s", res)
	}
}

func TestBadInputGetsAnErrorReplyNamingTheProblem(t *testing.T) {
	c := testConfig(t)
	c.Legacy.MaxFrameBytes = 4096
	n := startNode(t, c)
	a, b := newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.Ed25519)
	a.connect(t, n, nil)
	a.join(t)

	if got := errText(call(t, a.c, "ss-join", "/not/a/multiaddr", "x")); got != "Invalid multiaddr" {
		t.Errorf("invalid multiaddr: %q", got)
	}
	if got := errText(call(t, a.c, "ss-join", "/ip4/1.2.3.4/tcp/1/ipfs/"+a.id.String(), "x")); got != "Invalid multiaddr" {
		t.Errorf("not a ws-star address under strict_multiaddr: %q", got)
	}
	if got := errText(call(t, a.c, "ss-join", 5, "x")); got != "Invalid multiaddr" {
		t.Errorf("a number as address: %q", got)
	}
	if got := errText(call(t, a.c, "no-such-event", 1)); got != "Unknown event no-such-event" {
		t.Errorf("unknown event: %q", got)
	}
	if got := errText(call(t, a.c, "ss-dial", a.addr, b.addr, "d")); got != "Peer not found" {
		t.Errorf("dial to nobody: %q", got)
	}
	if got := errText(call(t, a.c, "ss-dial", b.addr, a.addr, "d")); got != "Not authorized for this address" {
		t.Errorf("dial from another's address: %q", got)
	}
	// A packet whose JSON is broken is answered in its ack.
	if err := a.c.WriteText(`4277["ss-join",`); err != nil {
		t.Fatal(err)
	}
	if err := a.c.WriteText(`4x`); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-a.c.Errors:
		if !strings.HasPrefix(msg, "Malformed packet") {
			t.Errorf("error packet %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error packet for a malformed one")
	}
	if got := counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "malformed"); got < 2 {
		t.Errorf("malformed refusals %v, want 2", got)
	}
	// A frame over legacy.max_frame_bytes closes the socket (the write
	// may fail as the node closes it).
	_ = a.c.Emit("socket.io-pull-stream.queue.x", make([]byte, 8192))
	select {
	case <-a.c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("socket not closed after an oversized frame")
	}
	// The socket may close (the read fails) before the refusal is counted.
	testhost.Eventually(t, "the oversized frame counted", func() bool {
		return counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "max_frame_bytes") >= 1
	})
	if got := counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "max_frame_bytes"); got != 1 {
		t.Errorf("max_frame_bytes refusals %v, want 1", got)
	}
}

// dialPair connects and joins two old peers.
func dialPair(t *testing.T, n *Node) (a, b *oldPeer) {
	a, b = newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.Ed25519)
	a.connect(t, n, nil)
	b.connect(t, n, nil)
	a.join(t)
	b.join(t)
	return a, b
}

func TestADialOverItsBufferCapOrIdleIsEndedWithTheSettingNamed(t *testing.T) {
	c := testConfig(t)
	c.Legacy.DialBufferBytes = 4096
	c.Legacy.DialIdleTimeout = config.Duration(time.Second)
	n := startNode(t, c)
	a, b := dialPair(t, n)

	// b never answers ss-incomming: what a sends is held, up to the cap.
	dialed := make(chan []json.RawMessage, 1)
	go func() {
		res, _ := a.c.Call(t.Context(), "ss-dial", a.addr, b.addr, "d1")
		dialed <- res
	}()
	next(t, a.c, "socket.io-pull-stream.accept.d1.dialer")
	next(t, b.c, "ss-incomming")
	for range 2 {
		if err := a.c.Emit("socket.io-pull-stream.queue.d1.dialer", make([]byte, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	if got := errText(<-dialed); !strings.HasPrefix(got, "legacy.dial_buffer_bytes") {
		t.Fatalf("dial over the buffer cap answered %q", got)
	}
	if e := next(t, b.c, "socket.io-pull-stream.error.d1.dialer"); !strings.Contains(string(e.Args[0]), "legacy.dial_buffer_bytes") {
		t.Fatalf("listener told %s", e.Args[0])
	}

	// An accepted dial that carries nothing ends after dial_idle_timeout.
	go func() {
		res, _ := a.c.Call(t.Context(), "ss-dial", a.addr, b.addr, "d2")
		dialed <- res
	}()
	in := next(t, b.c, "ss-incomming")
	_ = b.c.Ack(in.ID)
	if res := <-dialed; errText(res) != "" {
		t.Fatalf("ss-dial: %s", res)
	}
	_ = a.c.Emit("socket.io-pull-stream.accept.d2.listener")
	_ = b.c.Emit("socket.io-pull-stream.accept.d2.dialer")
	if e := next(t, a.c, "socket.io-pull-stream.error.d2.listener"); !strings.Contains(string(e.Args[0]), "legacy.dial_idle_timeout") {
		t.Fatalf("dialer told %s", e.Args[0])
	}
	if got := counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "dial_idle_timeout"); got != 1 {
		t.Errorf("dial_idle_timeout refusals %v, want 1", got)
	}
}

func TestASlowReceiverIsClosedRatherThanBufferedFor(t *testing.T) {
	c := testConfig(t)
	c.Legacy.SocketQueueBytes = 64 << 10
	c.Legacy.MaxFrameBytes = 32 << 10
	n := startNode(t, c)
	a, b := dialPair(t, n)
	go func() { _, _ = a.c.Call(t.Context(), "ss-dial", a.addr, b.addr, "d1") }()
	in := next(t, b.c, "ss-incomming")
	_ = b.c.Emit("socket.io-pull-stream.accept.d1.dialer")
	_ = b.c.Ack(in.ID)
	// b stops reading: its event channel fills, then its socket buffers.
	chunk := make([]byte, 30<<10)
	for i := 0; i < 4000; i++ {
		if counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "socket_queue_bytes") > 0 {
			break
		}
		if err := a.c.Emit("socket.io-pull-stream.queue.d1.dialer", chunk); err != nil {
			t.Fatal(err)
		}
	}
	if got := counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "socket_queue_bytes"); got != 1 {
		t.Fatalf("socket_queue_bytes refusals %v, want 1", got)
	}
	eventually(t, "b to leave the registry", func() bool { _, ok := n.Registry.Get(legacy.DefaultNamespace, b.id); return !ok })
}

func TestOldClientsAreServedOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeSelfSigned(t, certFile, keyFile, 1)
	c := testConfig(t)
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}
	c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
	n := startNode(t, c)
	tc := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	a, b := newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.RSA)
	a.connect(t, n, tc)
	b.connect(t, n, tc)
	a.join(t)
	if others := b.join(t); len(others) != 1 || others[0] != a.addr {
		t.Fatalf("listed %v", others)
	}
}

func TestPerIPSocketCapSeesTheClientBehindThePROXYProtocol(t *testing.T) {
	c := testConfig(t)
	c.ProxyProtocol.From = []string{"127.0.0.1/32"}
	c.Legacy.MaxSocketsPerIP = 1
	n := startNode(t, c)
	base := legacyBase(t, n)
	from := func(ip string) error {
		d := func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			_, err = fmt.Fprintf(conn, "PROXY TCP4 %s 127.0.0.1 40000 9090\r\n", ip)
			return conn, err
		}
		cl, err := legacy.DialClientVia(t.Context(), base, d)
		if err == nil {
			t.Cleanup(func() { _ = cl.Close() })
		}
		return err
	}
	if err := from("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := from("10.0.0.1"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("second socket from one client: %v, want HTTP 429", err)
	}
	if err := from("10.0.0.2"); err != nil {
		t.Fatalf("socket from another client: %v", err)
	}
	if got := counterValue(t, n, "rendezvous_legacy_refusals_total", "reason", "max_sockets_per_ip"); got != 1 {
		t.Errorf("max_sockets_per_ip refusals %v, want 1", got)
	}
}

func TestWithLegacyOffSocketIOIsNotServed(t *testing.T) {
	c := testConfig(t)
	c.Legacy.Enabled = false
	n := startNode(t, c)
	if n.Legacy != nil {
		t.Fatal("legacy service runs")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := legacy.DialClient(ctx, legacyBase(t, n), nil, http.Header{}); err == nil {
		t.Fatal("an old client connected to a node with legacy.enabled off")
	}
}

func TestBanningOrDisconnectingAnOldClientClosesItsSocket(t *testing.T) {
	n, _ := startLoggedNode(t, adminConfig(t))
	banned, kicked, other := newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.Ed25519), newOldPeer(t, n, crypto.Ed25519)
	for _, p := range []*oldPeer{banned, kicked, other} {
		p.connect(t, n, nil)
		p.join(t)
	}
	ns := n.Legacy.Namespace()
	gone := func(p *oldPeer) func() bool {
		return func() bool {
			select {
			case <-p.c.Done():
				_, member := n.Registry.Get(ns, p.id)
				return !member
			default:
				return false
			}
		}
	}

	var d struct {
		Closed int `json:"closed"`
	}
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"peer": "`+banned.id.String()+`"}`, &d); code != 201 || d.Closed != 1 {
		t.Fatalf("deny: %d, closed %d, want 201 and the old client's socket", code, d.Closed)
	}
	eventually(t, "the banned old client's socket closed and its membership gone", gone(banned))

	if code := adminDo(t, n, "", "POST", "/v1/peers/"+kicked.id.String()+"/disconnect", "", &d); code != 200 || d.Closed != 1 {
		t.Fatalf("disconnect: %d, closed %d", code, d.Closed)
	}
	eventually(t, "the disconnected old client's socket closed", gone(kicked))

	// A banned subnet: the socket already open is closed, new ones refused.
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"subnet": "127.0.0.0/8"}`, &d); code != 201 || d.Closed < 1 {
		t.Fatalf("deny subnet: %d, closed %d", code, d.Closed)
	}
	eventually(t, "the other old client's socket closed", gone(other))
	if _, err := legacy.DialClient(t.Context(), legacyBase(t, n), nil, nil); err == nil {
		t.Error("a socket from a denied subnet was accepted")
	}
}
