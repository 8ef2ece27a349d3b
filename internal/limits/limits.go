// Package limits names the limit behind every refusal, counts refusals in
// rendezvous_limit_refusals_total{limit} and logs a rate-limited warning, so
// an operator sees which setting to raise.
package limits

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// Limit names are the configuration paths of the settings that set them.
const (
	Connections     = "resources.max_connections"
	Streams         = "resources.max_streams"
	Memory          = "resources.max_memory_mb"
	FileDescriptors = "resources.max_file_descriptors"
	// WebRTCDirectConnections refusals come before any handshake, so the
	// browser sees its dial time out.
	WebRTCDirectConnections = "resources.max_webrtc_direct_connections"
	ConnsPerIP              = "resources.conns_per_ip"
	ConnRatePerIP           = "resources.conn_rate_per_ip"
	PeerResources           = "resources (per-peer scope)"
	RelayReservations       = "relay.max_reservations"
	RelayCircuits           = "relay.max_circuits or relay.max_active_circuits"
	RelayActiveCircuits     = "relay.max_active_circuits"
	Registrations           = "registry.max_registrations"
	RegistrationsPerPeer    = "registry.max_registrations_per_peer"
	Namespaces              = "registry.max_namespaces"
	NamespacePrefixes       = "namespaces.allow_prefixes"
	NamespaceMembers        = "namespaces.max_members"
	Views                   = "wsstar.max_views"
	JoinsPerStream          = "wsstar.max_joins_per_stream"
	WSStarStreamsPerPeer    = "wsstar.max_streams_per_peer"
	JoinRate                = "wsstar.join_rate"
	PendingEvents           = "wsstar.max_pending_events"
	RequestRate             = "rendezvous.request_rate"
	RendezvousStreams       = "rendezvous.max_streams_per_peer"
	// RegistrationsPerSource is counted per IPv4 address or IPv6 /56.
	RegistrationsPerSource = "rendezvous.max_registrations_per_ip"
)

// Observer is told of every request a limit refused.
type Observer interface {
	Refused(limit string)
}

// Nop observes nothing; the default of every service.
type Nop struct{}

// Refused does nothing.
func (Nop) Refused(string) {}

// WarnEvery is the shortest time between two warnings about one limit.
const WarnEvery = time.Minute

// Reporter counts refusals and warns at most once per WarnEvery per limit,
// with the number refused since the last warning.
type Reporter struct {
	log      *slog.Logger
	reg      prometheus.Registerer
	refusals *prometheus.CounterVec

	mu     sync.Mutex
	warned map[string]*warnState
}

type warnState struct {
	at         time.Time
	suppressed int
}

// New returns a Reporter logging to log and registering its counter with
// reg (none when reg is nil).
func New(log *slog.Logger, reg prometheus.Registerer) (*Reporter, error) {
	r := &Reporter{
		log: log,
		reg: reg,
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_limit_refusals_total",
			Help: "Requests refused by a limit, by the setting that sets it.",
		}, []string{"limit"}),
		warned: make(map[string]*warnState),
	}
	if err := promreg.RegisterAll(reg, r.refusals); err != nil {
		return nil, err
	}
	return r, nil
}

// Refused records one refusal by limit.
func (r *Reporter) Refused(limit string) {
	r.refusals.WithLabelValues(limit).Inc()
	now := time.Now()
	r.mu.Lock()
	w := r.warned[limit]
	if w != nil && now.Sub(w.at) < WarnEvery {
		w.suppressed++
		r.mu.Unlock()
		return
	}
	if w == nil {
		w = &warnState{}
		r.warned[limit] = w
	}
	n := w.suppressed + 1
	w.at, w.suppressed = now, 0
	r.mu.Unlock()
	r.log.Warn("a limit is refusing peers' requests; raise it, or capacity.peers", "limit", limit, "refused", n, "since", WarnEvery)
}

// Close unregisters the counter.
func (r *Reporter) Close() {
	promreg.UnregisterAll(r.reg, r.refusals)
}

// Text is the reply text of a refusal by limit: it names the setting.
func Text(text, limit string) string { return text + " (" + limit + ")" }
