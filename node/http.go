package node

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is what the status page and /healthz report.
type Status struct {
	PeerID        string   `json:"peer_id"`
	Addrs         []string `json:"addrs"`
	Uptime        string   `json:"uptime"`
	Peers         int      `json:"peers"`
	Reservations  int      `json:"reservations"`
	Registrations int      `json:"registrations"`
	Namespaces    int      `json:"namespaces"`
	Views         int      `json:"views"`
	Version       string   `json:"version"`
}

// Status returns the node's current figures.
func (n *Node) Status() Status {
	s := Status{
		PeerID:       n.Host.ID().String(),
		Uptime:       n.Uptime().Round(time.Second).String(),
		Peers:        len(n.Host.Network().Peers()),
		Reservations: n.reservations.count(),
		Version:      Version,
	}
	for _, a := range n.Addrs() {
		s.Addrs = append(s.Addrs, a.String())
	}
	if n.statsFn != nil {
		n.statsFn(&s)
	}
	return s
}

// httpHandler serves the non-WebSocket requests that reach the node's port,
// and, when metricsHere is set, /metrics.
func (n *Node) httpHandler(metricsHere bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", n.serveHealth)
	if metricsHere {
		mux.Handle("GET /metrics", n.metricsHandler())
	}
	mux.HandleFunc("GET /{$}", n.serveIndex)
	return n.recoverHTTP(mux)
}

// recoverHTTP turns a handler panic into a logged 500: the WebSocket
// transport's HTTP server would otherwise drop the connection silently.
func (n *Node) recoverHTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				n.log.Error("http handler panicked", "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func (n *Node) metricsHandler() http.Handler {
	return promhttp.HandlerFor(n.metrics, promhttp.HandlerOpts{
		Timeout:             10 * time.Second,
		MaxRequestsInFlight: 4,
		ErrorHandling:       promhttp.ContinueOnError,
	})
}

func (n *Node) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"status":  "ok",
		"peer_id": n.Host.ID().String(),
		"uptime":  n.Uptime().Round(time.Second).String(),
	})
}

var indexTemplate = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ws-star rendezvous</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px;word-break:break-all}
li{margin:.3rem 0} table{border-collapse:collapse} td{padding:.2rem 1rem .2rem 0}
</style></head><body>
<h1>ws-star rendezvous</h1>
<p>A libp2p rendezvous and relay node. Point a libp2p peer at one of these addresses:</p>
<ul>{{range .Addrs}}<li><code>{{.}}</code></li>{{else}}<li>(no addresses yet)</li>{{end}}</ul>
<p>A peer holding a relay reservation here is reachable at <code>&lt;address above&gt;/p2p-circuit/p2p/&lt;peer id&gt;</code>.</p>
<table>
<tr><td>Peer ID</td><td><code>{{.PeerID}}</code></td></tr>
<tr><td>Uptime</td><td>{{.Uptime}}</td></tr>
<tr><td>Connected peers</td><td>{{.Peers}}</td></tr>
<tr><td>Peers with a relay reservation</td><td>{{.Reservations}}</td></tr>
<tr><td>Registrations</td><td>{{.Registrations}}</td></tr>
<tr><td>Namespaces</td><td>{{.Namespaces}}</td></tr>
<tr><td>Live views</td><td>{{.Views}}</td></tr>
<tr><td>Version</td><td>{{.Version}}</td></tr>
</table>
<p>Protocols: <code>/rendezvous/1.0.0</code>, <code>/ws-star/1.0.0</code>, <code>/libp2p/circuit/relay/0.2.0/hop</code>.
Health: <a href="/healthz">/healthz</a>.</p>
</body></html>
`))

func (n *Node) serveIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = indexTemplate.Execute(w, n.Status())
}

// pprofHandler is only ever served on a separate loopback listener.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
