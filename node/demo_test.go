package node

import (
	"crypto/tls"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

func TestDemoIsServedAtDemoWithTheNodeAddressFilledIn(t *testing.T) {
	n := startNode(t, testConfig(t))
	base := httpBase(t, n)

	code, page := get(t, base+"/demo/")
	if code != http.StatusOK {
		t.Fatalf("/demo/: status %d", code)
	}
	want := n.Addrs()[0].String()
	if !strings.Contains(want, "/ws/p2p/") {
		t.Fatalf("node address %s is not a WebSocket one", want)
	}
	if !strings.Contains(page, `<meta name="ws-star-node" content="`+html.EscapeString(want)+`">`) {
		t.Fatalf("/demo/ does not carry the node address %s:\n%.600s", want, page)
	}
	if !strings.Contains(page, `<script type="module" src="app.js">`) {
		t.Fatalf("/demo/ is not the demo page:\n%.600s", page)
	}

	for file, typ := range map[string]string{"app.js": "text/javascript", "style.css": "text/css"} {
		resp := getResp(t, base+"/demo/"+file)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), typ) {
			t.Fatalf("/demo/%s: status %d, type %q", file, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// Only the build's files: nothing else of the embedded tree, no listing.
	for _, path := range []string{"/demo/index.html.map", "/demo/app.js.map", "/demo/../demo.go", "/demo/x/app.js"} {
		if code, _ := get(t, base+path); code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", path, code)
		}
	}
	// /demo goes to /demo/, where the page's relative URLs resolve.
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/demo/" {
		t.Fatalf("/demo: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestDemoOffWhenHTTPDemoIsFalse(t *testing.T) {
	c := testConfig(t)
	c.HTTP.Demo = false
	n := startNode(t, c)
	base := httpBase(t, n)
	for _, path := range []string{"/demo/", "/demo/app.js"} {
		if code, _ := get(t, base+path); code != http.StatusNotFound {
			t.Fatalf("%s with http.demo false: status %d, want 404", path, code)
		}
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: status %d", code)
	}
}

func TestDemoPicksTheAddressABrowserOnThatPageCanDial(t *testing.T) {
	addrs := []ma.Multiaddr{
		ma.StringCast("/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE"),
		ma.StringCast("/ip4/192.168.1.20/tcp/9090/ws/p2p/12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE"),
		ma.StringCast("/dns4/rdv.example.com/tcp/443/tls/ws/p2p/12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE"),
		ma.StringCast("/ip4/192.168.1.20/udp/9090/webrtc-direct/p2p/12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE"),
	}
	for _, tc := range []struct {
		name, host, proto string
		tls               bool
		want              int // index into addrs; -1 for none
	}{
		{name: "localhost page: loopback address", host: "localhost:9090", want: 0},
		{name: "LAN page: LAN address", host: "192.168.1.20:9090", want: 1},
		{name: "unknown host over http: first plain address", host: "10.9.9.9:9090", want: 0},
		{name: "HTTPS behind a proxy: the secure address", host: "rdv.example.com", proto: "https", want: 2},
		{name: "HTTPS on the node: the secure address", host: "192.168.1.20:9090", tls: true, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+"/demo/", nil)
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := demoNodeAddr(addrs, r, 0); got != addrs[tc.want].String() {
				t.Fatalf("got %q, want %s", got, addrs[tc.want])
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "https://rdv.example.com/demo/", nil)
	r.TLS = &tls.ConnectionState{}
	if got := demoNodeAddr(addrs[:2], r, 0); got != "" {
		t.Fatalf("an HTTPS page got the plain WebSocket address %q", got)
	}
}

func getResp(t *testing.T, url string) *http.Response {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp
}

func TestDemoViaFillsInTheNodeAddressOfThatTransport(t *testing.T) {
	n := startNode(t, udpConfig(t))
	base := wsHTTPBase(t, n)
	for _, u := range udpTransportsUnderTest {
		want := nodeAddrsOf(t, n, u)[0].String() + "/p2p/" + n.Host.ID().String()
		code, page := get(t, base+"/demo/?via="+u.name)
		if code != http.StatusOK || !strings.Contains(page, `<meta name="ws-star-node" content="`+html.EscapeString(want)+`">`) {
			t.Fatalf("/demo/?via=%s: status %d, want the node's %s address %s:\n%.600s", u.name, code, u.name, want, page)
		}
	}
	code, body := get(t, base+"/demo/?via=carrier-pigeon")
	if code != http.StatusBadRequest || !strings.Contains(body, `via must be "webrtc-direct" or "webtransport"`) {
		t.Fatalf("/demo/?via=carrier-pigeon: status %d %q, want 400 naming the choices", code, body)
	}

	// A node without that listener fills in nothing: the page asks for an address.
	ws := startNode(t, testConfig(t))
	if code, page := get(t, httpBase(t, ws)+"/demo/?via=webrtc-direct"); code != http.StatusOK || !strings.Contains(page, demoAddrSlot) {
		t.Fatalf("/demo/?via=webrtc-direct on a WebSocket-only node: status %d, want the empty address slot:\n%.600s", code, page)
	}
}
