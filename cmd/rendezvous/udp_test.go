package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/node"
)

// addrsJSON reads /addrs.json from the node whose WebSocket address is a.
func addrsJSON(t *testing.T, a ma.Multiaddr) node.AddrsDoc {
	t.Helper()
	_, hostport, err := manet.DialArgs(a.Decapsulate(ma.StringCast("/ws")))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + hostport + "/addrs.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("/addrs.json: status %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	var doc node.AddrsDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// certhashOf is the first /certhash of the address in addrs that has proto.
func certhashOf(t *testing.T, addrs []string, proto string) string {
	t.Helper()
	for _, s := range addrs {
		a := ma.StringCast(s)
		if _, err := a.ValueForProtocol(ma.ProtocolWithName(proto).Code); err != nil {
			continue
		}
		h, err := a.ValueForProtocol(ma.P_CERTHASH)
		if err != nil {
			t.Fatalf("%s has no certhash", s)
		}
		return h
	}
	t.Fatalf("no %s address in %v", proto, addrs)
	return ""
}

func TestRunListensOnWebRTCDirectAndWebTransportByDefaultAndIDKnowsTheWebRTCCerthash(t *testing.T) {
	key := filepath.Join(t.TempDir(), "identity.key")
	a := startRun(t, env(map[string]string{"HOST": "127.0.0.1", "PORT": "0"}), "--identity", key)
	if _, err := a.ValueForProtocol(ma.P_WS); err != nil {
		t.Fatalf("first printed address %s is not the WebSocket one", a)
	}
	doc := addrsJSON(t, a)
	if len(doc.Addrs) != 3 || doc.Addrs[0] != a.String() {
		t.Fatalf("/addrs.json lists %v, want the WebSocket, WebRTC-direct and WebTransport addresses", doc.Addrs)
	}
	for _, s := range doc.Addrs {
		if !strings.HasSuffix(s, "/p2p/"+doc.PeerID) {
			t.Errorf("%s does not end in /p2p/%s", s, doc.PeerID)
		}
	}
	running := certhashOf(t, doc.Addrs, "webrtc-direct")
	certhashOf(t, doc.Addrs, "webtransport")

	code, out, stderr := runCmd(t, env(nil), "id", "--identity", key, "--host", "127.0.0.1", "--port", "0")
	if code != 0 {
		t.Fatalf("id: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := certhashOf(t, lines[1:], "webrtc-direct"); got != running {
		t.Fatalf("id prints WebRTC-direct certhash %s, the running node advertises %s", got, running)
	}
}

func TestNoWebRTCDirectAndNoWebTransportFlagsLeaveOnlyWebSockets(t *testing.T) {
	key := filepath.Join(t.TempDir(), "identity.key")
	a := startRun(t, env(map[string]string{"RENDEZVOUS_NO_WEBTRANSPORT": "true"}),
		"--identity", key, "--host", "127.0.0.1", "--port=0", "--no-webrtc-direct")
	if doc := addrsJSON(t, a); len(doc.Addrs) != 1 || doc.Addrs[0] != a.String() {
		t.Fatalf("/addrs.json lists %v with both UDP transports off, want only %s", doc.Addrs, a)
	}
}

func TestNoWebRTCDirectFlagKeepsWebTransport(t *testing.T) {
	key := filepath.Join(t.TempDir(), "identity.key")
	a := startRun(t, env(nil), "--identity", key, "--host", "127.0.0.1", "--port=0", "--no-webrtc-direct")
	doc := addrsJSON(t, a)
	if len(doc.Addrs) != 2 || !strings.Contains(doc.Addrs[1], "/quic-v1/webtransport/certhash/") {
		t.Fatalf("/addrs.json lists %v, want the WebSocket and WebTransport addresses", doc.Addrs)
	}
}
