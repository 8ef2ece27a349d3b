package node

import (
	"bytes"
	"embed"
	"html"
	"net"
	"net/http"
	"strings"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/node/transports"
)

// demoFiles is the browser demo (examples/browser) as `npm run build:embed`
// writes it; interop's TestEmbeddedDemoIsAFreshBuild keeps it current, so
// building the node never needs npm.
//
//go:embed demo/index.html demo/app.js demo/style.css
var demoFiles embed.FS

// demoAddrSlot is the tag in the demo's index.html the node fills with its
// own address, so the page connects without being told where.
const demoAddrSlot = `<meta name="ws-star-node" content="">`

var demoTypes = map[string]string{
	"app.js":    "text/javascript; charset=utf-8",
	"style.css": "text/css; charset=utf-8",
}

// handleDemo serves the demo at /demo/ when http.demo is set.
func (n *Node) handleDemo(mux *http.ServeMux) {
	if !n.cfg.HTTP.Demo {
		return
	}
	mux.Handle("GET /demo", http.RedirectHandler("/demo/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /demo/{$}", n.serveDemoIndex)
	mux.HandleFunc("GET /demo/{file}", serveDemoFile)
}

// demoVia are the values of /demo/?via=: the transport of the address the
// node fills in (its protocol code; 0 for WebSockets, the default).
var demoVia = map[string]int{"": 0, "webrtc-direct": ma.P_WEBRTC_DIRECT, "webtransport": ma.P_WEBTRANSPORT}

func (n *Node) serveDemoIndex(w http.ResponseWriter, r *http.Request) {
	via, ok := demoVia[r.URL.Query().Get("via")]
	if !ok {
		http.Error(w, `via must be "webrtc-direct" or "webtransport" (or absent, for WebSockets)`, http.StatusBadRequest)
		return
	}
	page, err := demoFiles.ReadFile("demo/index.html")
	if err != nil {
		http.Error(w, "demo not built", http.StatusInternalServerError)
		return
	}
	if addr := demoNodeAddr(n.Addrs(), r, via); addr != "" {
		filled := `<meta name="ws-star-node" content="` + html.EscapeString(addr) + `">`
		page = bytes.Replace(page, []byte(demoAddrSlot), []byte(filled), 1)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The address changes with the node's (and with the host asked for).
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(page)
}

func serveDemoFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	typ, ok := demoTypes[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := demoFiles.ReadFile("demo/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	// Revalidate: a new binary may bring a new build under the same name.
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// demoNodeAddr picks the node address the demo page dials: a WebSocket one,
// secure when the page was loaded over HTTPS (a browser refuses ws:// there),
// or with via one of that transport (WebRTC-direct, WebTransport: no
// certificate needed), preferring the host the page was loaded from (a node
// on 0.0.0.0 has a loopback and a LAN address; a browser on another machine
// needs the LAN one). "" when the node has no such address.
func demoNodeAddr(addrs []ma.Multiaddr, r *http.Request, via int) string {
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	best, bestScore := "", -1
	for _, a := range addrs {
		score := 0
		if via != 0 {
			if !transports.DirectAddrHas(a, via) {
				continue
			}
		} else if tls, ok := wsKind(a); !ok {
			continue
		} else if tls == secure {
			score += 2
		} else if secure {
			continue // not dialable from an HTTPS page
		}
		if addrHostIs(a, host) {
			score++
		}
		if score > bestScore {
			best, bestScore = a.String(), score
		}
	}
	return best
}

// wsKind reports whether a is a direct (not relayed) WebSocket address, and
// whether it is a secure one (/tls/ws or /wss).
func wsKind(a ma.Multiaddr) (secure, ok bool) {
	for _, c := range a {
		switch c.Code() {
		case ma.P_CIRCUIT:
			return false, false
		case ma.P_TLS:
			secure = true
		case ma.P_WSS:
			secure, ok = true, true
		case ma.P_WS:
			ok = true
		}
	}
	return secure, ok
}

func addrHostIs(a ma.Multiaddr, host string) bool {
	if len(a) == 0 || host == "" {
		return false
	}
	switch a[0].Code() {
	case ma.P_IP4, ma.P_IP6:
		ip := net.ParseIP(a[0].Value())
		if host == "localhost" {
			return ip != nil && ip.IsLoopback()
		}
		return ip != nil && ip.Equal(net.ParseIP(host))
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
		return strings.EqualFold(a[0].Value(), host)
	}
	return false
}
