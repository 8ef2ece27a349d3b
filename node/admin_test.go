package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
)

// adminConfig is testConfig with the admin API on a free loopback port and
// a deny file in the test's directory.
func adminConfig(t testing.TB) config.Config {
	c := testConfig(t)
	c.Admin.Addr = "127.0.0.1:0"
	c.Deny.File = filepath.Join(t.TempDir(), "deny.json")
	return c
}

// logBuffer collects a node's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLoggedNode starts a node logging text lines into the returned buffer.
func startLoggedNode(t testing.TB, c config.Config) (*Node, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	n, err := New(t.Context(), c, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { closeNode(n) })
	return n, logs
}

func closeNode(n *Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.Close(ctx)
}

// adminDo calls the node's admin API and decodes the JSON reply into out
// (when not nil); it returns the status code.
func adminDo(t testing.TB, n *Node, token, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+n.SideListenerAddr("admin")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// eventually polls cond for up to 10 s.
func connected(h host.Host, p peer.ID) bool {
	return h.Network().Connectedness(p) == network.Connected
}

func TestAdminListsNamespacesMembersAndPeersOfBothProtocols(t *testing.T) {
	n := startNode(t, adminConfig(t))
	// A ws-star member holding a reservation, a ws-star watcher, and a
	// rendezvous registrant in two namespaces.
	live, _ := liveMember(t, n, "board")
	watcher(t, testhost.NewClient(t), n, "lobby", false)
	rdv := testhost.New(t)
	testhost.Connect(t, rdv, n.Host)
	rc := rendezvous.NewClient(rdv, n.Host.ID())
	for _, ns := range []string{"board", "files"} {
		if _, err := rc.Register(t.Context(), ns, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	var list struct{ Namespaces []NamespaceSummary }
	if code := adminDo(t, n, "", "GET", "/v1/namespaces", "", &list); code != 200 {
		t.Fatalf("namespaces: %d", code)
	}
	want := []NamespaceSummary{{"board", 2, 1}, {"files", 1, 0}, {"lobby", 0, 1}}
	if len(list.Namespaces) != len(want) {
		t.Fatalf("namespaces %+v, want %+v", list.Namespaces, want)
	}
	for i, w := range want {
		if list.Namespaces[i] != w {
			t.Fatalf("namespaces %+v, want %+v", list.Namespaces, want)
		}
	}

	var ns struct {
		Name      string
		Members   int
		Views     int
		List      []MemberInfo
		Truncated bool
	}
	if code := adminDo(t, n, "", "GET", "/v1/namespaces/board", "", &ns); code != 200 || ns.Members != 2 || len(ns.List) != 2 || ns.Truncated {
		t.Fatalf("board: %d %+v", code, ns)
	}
	sources := map[string]string{}
	for _, m := range ns.List {
		sources[m.Peer] = m.Source
		if len(m.Addrs) == 0 || m.Since.IsZero() || time.Since(m.Since) > time.Minute {
			t.Fatalf("member %+v lacks addresses or a recent since", m)
		}
		if (m.Source == "rendezvous") != (m.Expires != nil) {
			t.Fatalf("member %+v: only a rendezvous member has an expiry", m)
		}
	}
	if sources[live.ID().String()] != "live" || sources[rdv.ID().String()] != "rendezvous" {
		t.Fatalf("sources %v", sources)
	}
	if code := adminDo(t, n, "", "GET", "/v1/namespaces/board?limit=1", "", &ns); code != 200 || len(ns.List) != 1 || !ns.Truncated {
		t.Fatalf("board limit 1: %d %+v", code, ns)
	}

	var p PeerInfo
	if code := adminDo(t, n, "", "GET", "/v1/peers/"+live.ID().String(), "", &p); code != 200 {
		t.Fatalf("peer: %d", code)
	}
	if len(p.Connections) == 0 || !strings.HasPrefix(p.Connections[0].Remote, "/ip4/127.0.0.1/") || p.Connections[0].Direction != "Inbound" {
		t.Fatalf("connections %+v", p.Connections)
	}
	if !p.Reservation || len(p.WSStarJoins) != 1 || p.WSStarJoins[0].Namespace != "board" || !p.WSStarJoins[0].Announce || len(p.Registrations) != 0 {
		t.Fatalf("live peer %+v", p)
	}
	if code := adminDo(t, n, "", "GET", "/v1/peers/"+rdv.ID().String(), "", &p); code != 200 {
		t.Fatalf("peer: %d", code)
	}
	if p.Reservation || len(p.WSStarJoins) != 0 || len(p.Registrations) != 2 || p.Registrations[1].Namespace != "files" || p.Registrations[1].Expires == nil {
		t.Fatalf("rendezvous peer %+v", p)
	}

	var e struct{ Error string }
	for _, tc := range []struct {
		method, path string
		code         int
		says         string
	}{
		{"GET", "/v1/namespaces/nobody-here", 404, "no members"},
		{"GET", "/v1/namespaces/board?limit=0", 400, "limit"},
		{"GET", "/v1/peers/not-a-peer", 400, "not a peer ID"},
		{"GET", "/v1/peers/" + testhost.NewClient(t).ID().String(), 404, "not connected"},
		{"POST", "/v1/peers/" + testhost.NewClient(t).ID().String() + "/disconnect", 404, "not connected"},
		{"GET", "/v2/anything", 404, "no such endpoint"},
	} {
		e.Error = ""
		if code := adminDo(t, n, "", tc.method, tc.path, "", &e); code != tc.code || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, code, e.Error, tc.code, tc.says)
		}
	}
}

func TestAdminDisconnectClosesThePeersConnections(t *testing.T) {
	n := startNode(t, adminConfig(t))
	h := testhost.New(t)
	testhost.Connect(t, h, n.Host)
	var out struct{ Closed int }
	if code := adminDo(t, n, "", "POST", "/v1/peers/"+h.ID().String()+"/disconnect", "", &out); code != 200 || out.Closed != 1 {
		t.Fatalf("disconnect: %d %+v", code, out)
	}
	testhost.Eventually(t, "peer disconnected", func() bool { return !connected(h, n.Host.ID()) })
	// Only a ban keeps it away.
	testhost.Connect(t, h, n.Host)
}

func TestAdminRequiresTheTokenWhenOneIsSet(t *testing.T) {
	c := adminConfig(t)
	c.Admin.TokenFile = filepath.Join(t.TempDir(), "admin.token")
	const token = "s3cret-admin-token-0123456789"
	if err := os.WriteFile(c.Admin.TokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, c)
	var e struct{ Error string }
	for _, sent := range []string{"", "wrong-token-wrong-token", token + "x"} {
		e.Error = ""
		if code := adminDo(t, n, sent, "GET", "/v1/namespaces", "", &e); code != 401 || !strings.Contains(e.Error, "bearer token") {
			t.Fatalf("token %q: %d %q, want 401", sent, code, e.Error)
		}
	}
	if code := adminDo(t, n, "", "POST", "/v1/deny", `{"subnet": "10.0.0.0/8"}`, nil); code != 401 {
		t.Fatalf("unauthenticated ban: %d", code)
	}
	if code := adminDo(t, n, token, "GET", "/v1/namespaces", "", nil); code != 200 {
		t.Fatalf("with the token: %d", code)
	}
}

func TestAdminTokenFileMustHoldAUsableToken(t *testing.T) {
	c := adminConfig(t)
	c.Admin.TokenFile = filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(c.Admin.TokenFile, []byte("short\n"), 0o600)
	if _, err := New(t.Context(), c); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("short token: %v", err)
	}
	c.Admin.TokenFile += ".missing"
	if _, err := New(t.Context(), c); err == nil || !strings.Contains(err.Error(), "admin.token_file") {
		t.Fatalf("missing token file: %v", err)
	}
}

func TestAdminOnAPublicAddressWithoutATokenIsAConfigurationError(t *testing.T) {
	c := testConfig(t)
	c.Admin.Addr = "0.0.0.0:0"
	_, err := New(t.Context(), c)
	var ve *config.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "admin.addr") || !strings.Contains(err.Error(), "admin.token_file") {
		t.Fatalf("got %v, want a validation error naming admin.addr and admin.token_file", err)
	}
}

func TestAdminRejectsMalformedDenyRequests(t *testing.T) {
	n := startNode(t, adminConfig(t))
	var e struct{ Error string }
	for _, tc := range []struct {
		body string
		code int
		says string
	}{
		{`{"peer": "nope"}`, 400, "not a peer ID"},
		{`{"subnet": "10.0.0.1/8"}`, 400, "did you mean 10.0.0.0/8"},
		{`{"subnet": "10.0.0.1"}`, 400, "not a CIDR"},
		{`{}`, 400, "exactly one"},
		{`{"peer": "x", "subnet": "10.0.0.0/8"}`, 400, "exactly one"},
		{`{"ip": "10.0.0.1"}`, 400, "unknown field"},
		{`not json`, 400, "body must be"},
		{`{"subnet": "` + strings.Repeat("1", 8<<10) + `"}`, 413, "larger than"},
	} {
		e.Error = ""
		if code := adminDo(t, n, "", "POST", "/v1/deny", tc.body, &e); code != tc.code || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%.40s: %d %q, want %d with %q", tc.body, code, e.Error, tc.code, tc.says)
		}
	}
	for _, tc := range []struct {
		entry string
		code  int
		says  string
	}{
		{"10.0.0.0/8", 404, "no such entry"},
		{"10.0.0.7", 400, "write 10.0.0.7/32"},
		{"junk", 400, "neither a peer ID"},
	} {
		e.Error = ""
		if code := adminDo(t, n, "", "DELETE", "/v1/deny/"+tc.entry, "", &e); code != tc.code || !strings.Contains(e.Error, tc.says) {
			t.Errorf("DELETE %s: %d %q, want %d with %q", tc.entry, code, e.Error, tc.code, tc.says)
		}
	}
}
