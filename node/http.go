package node

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ws-star/rendezvous/cluster"
	"github.com/ws-star/rendezvous/node/transports"
	"github.com/ws-star/rendezvous/protocols/legacy"
)

// httpWriteTimeout bounds writing one answer of the node's HTTP endpoints on
// its WebSocket port, as long as /metrics may take to gather; httpMaxStreams
// bounds the requests one HTTP/2 connection has in flight there. A browser
// or a proxy asks for a page or a scrape at a time.
const (
	httpWriteTimeout = 10 * time.Second
	httpMaxStreams   = 16
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
	// Cluster is set when the node shares its registry with other nodes.
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus is the node's view of its cluster.
type ClusterStatus struct {
	// Degraded: serving from the local copy only (see cluster.Registry).
	Degraded bool `json:"degraded"`
	// Ready is what /readyz answers.
	Ready     bool                 `json:"ready"`
	Connected bool                 `json:"connected"`
	Instance  string               `json:"instance"`
	Nodes     []cluster.NodeStatus `json:"nodes"`
}

// health is "ok"; "starting" until every service runs; or "degraded" while
// a cluster node serves from its local copy only.
func (n *Node) health() (status string, ready bool) {
	if !n.up.Load() {
		return "starting", false
	}
	if c := n.Cluster; c != nil && c.Degraded() {
		return "degraded", c.Ready()
	}
	return "ok", true
}

// Status returns the node's current figures.
func (n *Node) Status() Status {
	s := Status{
		PeerID:       n.Host.ID().String(),
		Uptime:       n.Uptime().Round(time.Second).String(),
		Peers:        len(n.Host.Network().Peers()),
		Reservations: n.reservations.Count(),
		Version:      Version,
	}
	for _, a := range n.Addrs() {
		s.Addrs = append(s.Addrs, a.String())
	}
	if !n.up.Load() {
		return s
	}
	if n.statsFn != nil {
		n.statsFn(&s)
	}
	if c := n.Cluster; c != nil {
		s.Cluster = &ClusterStatus{Degraded: c.Degraded(), Ready: c.Ready(), Connected: c.Connected(), Instance: c.Instance(), Nodes: c.Nodes()}
	}
	return s
}

// httpHandler serves the non-WebSocket requests that reach the node's port,
// and, when metricsHere is set, /metrics.
func (n *Node) httpHandler(metricsHere bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", n.serveHealth)
	mux.HandleFunc("GET /readyz", n.serveReady)
	if metricsHere {
		mux.Handle("GET /metrics", n.metricsHandler())
	}
	mux.HandleFunc("GET /addrs.json", n.serveAddrs)
	mux.HandleFunc("GET /{$}", n.serveIndex)
	n.handleDemo(mux) // demo.go
	if n.cfg.Legacy.Served(n.cfg.Namespaces) {
		mux.HandleFunc(legacy.Path, n.serveLegacy)
	}
	return n.recoverHTTP(mux)
}

// legacyOnlyHandler is the HTTP handler of a node with http.enabled off:
// the old clients' sockets only.
func (n *Node) legacyOnlyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(legacy.Path, n.serveLegacy)
	return n.recoverHTTP(mux)
}

// serveLegacy hands an old client's socket to the legacy service.
func (n *Node) serveLegacy(w http.ResponseWriter, r *http.Request) {
	if !n.up.Load() || n.Legacy == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	n.Legacy.ServeHTTP(w, transports.Undivert(r))
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

// serveHealth answers 200 while the process serves peers at all, with the
// status "ok" or "degraded": a degraded cluster node still serves its own
// peers, so a liveness probe must not restart it.
func (n *Node) serveHealth(w http.ResponseWriter, _ *http.Request) {
	status, _ := n.health()
	writeJSON(w, http.StatusOK, map[string]string{
		"status":  status,
		"peer_id": n.Host.ID().String(),
		"uptime":  n.Uptime().Round(time.Second).String(),
	})
}

// serveReady answers 503 while a cluster node has been degraded for longer
// than a JetStream election takes, so that a load balancer sends new peers
// to a node that sees the whole cluster.
func (n *Node) serveReady(w http.ResponseWriter, _ *http.Request) {
	status, ready := n.health()
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]string{"status": status})
}

// AddrsDoc is what /addrs.json serves.
type AddrsDoc struct {
	PeerID string `json:"peer_id"`
	// Addrs are the advertised addresses with their current /certhash parts
	// and /p2p/<id>, as Addrs returns them.
	Addrs []string `json:"addrs"`
}

// serveAddrs lists the addresses a browser can dial right now. WebTransport
// certificates rotate, so a page cannot hard-code that address; it fetches
// this, from any origin (the addresses are public anyway).
func (n *Node) serveAddrs(w http.ResponseWriter, _ *http.Request) {
	doc := AddrsDoc{PeerID: n.Host.ID().String(), Addrs: []string{}}
	for _, a := range n.Addrs() {
		doc.Addrs = append(doc.Addrs, a.String())
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, doc)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
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
<p>The same list as JSON, for a page to fetch (WebTransport <code>/certhash</code> parts change every
couple of weeks): <a href="/addrs.json">/addrs.json</a>.</p>
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
{{with .Cluster}}<h2>Cluster</h2>
<p>{{if .Degraded}}Degraded: serving this node's peers from its local copy.{{else}}In sync with the cluster.{{end}}</p>
<table>
<tr><td>Node</td><td>Instance</td><td>State</td><td>Addresses</td></tr>
{{range .Nodes}}<tr><td><code>{{.Peer}}</code>{{if .Self}} (this node){{end}}</td><td><code>{{.Instance}}</code></td>
<td>{{if .Alive}}alive{{else}}gone{{end}}</td><td>{{range .Addrs}}<code>{{.}}</code> {{end}}</td></tr>
{{end}}</table>{{end}}
<p>Protocols: <code>/rendezvous/1.0.0</code>, <code>/ws-star/1.0.0</code>, <code>/libp2p/circuit/relay/0.2.0/hop</code>.
Health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</p>
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
