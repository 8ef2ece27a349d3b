package legacy

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// Refusal names what the node refused an old client, and why; it is the
// "reason" label of rendezvous_legacy_refusals_total. The reply to the
// client names the same reason (and the setting, for a limit).
type Refusal string

const (
	RefusedInvalidMultiaddr Refusal = "invalid_multiaddr"
	RefusedNoKey            Refusal = "no_key"
	RefusedCryptoError      Refusal = "crypto_error"
	RefusedIDMismatch       Refusal = "id_mismatch"
	RefusedBadSignature     Refusal = "bad_signature"
	RefusedDenied           Refusal = "denied"
	RefusedRegistry         Refusal = "registry"
	RefusedSockets          Refusal = "max_sockets"
	RefusedSocketsPerIP     Refusal = "max_sockets_per_ip"
	RefusedAddrsPerSocket   Refusal = "max_addrs_per_socket"
	RefusedDialsPerSocket   Refusal = "max_dials_per_socket"
	RefusedDials            Refusal = "max_dials"
	RefusedFrameTooLarge    Refusal = "max_frame_bytes"
	RefusedDialBuffer       Refusal = "dial_buffer_bytes"
	RefusedSlowReceiver     Refusal = "socket_queue_bytes"
	RefusedDialIdle         Refusal = "dial_idle_timeout"
	RefusedJoinTimeout      Refusal = "join_timeout"
	RefusedMalformed        Refusal = "malformed"
	RefusedUnknownEvent     Refusal = "unknown_event"
	RefusedNotAuthorized    Refusal = "not_authorized"
	RefusedPeerNotFound     Refusal = "peer_not_found"
	RefusedNamespace        Refusal = "namespace"
)

var refusals = []Refusal{
	RefusedInvalidMultiaddr, RefusedNoKey, RefusedCryptoError, RefusedIDMismatch, RefusedBadSignature,
	RefusedDenied, RefusedRegistry, RefusedSockets, RefusedSocketsPerIP, RefusedAddrsPerSocket,
	RefusedDialsPerSocket, RefusedDials, RefusedFrameTooLarge, RefusedDialBuffer, RefusedSlowReceiver,
	RefusedDialIdle, RefusedJoinTimeout, RefusedMalformed, RefusedUnknownEvent, RefusedNotAuthorized,
	RefusedPeerNotFound, RefusedNamespace,
}

// DialResult is what became of one ss-dial.
type DialResult string

const (
	DialOK       DialResult = "ok"
	DialRefused  DialResult = "refused"
	DialRejected DialResult = "rejected_by_listener"
)

// MetricsTracer is told what the service does; it is the service's only view
// of metrics. The Prometheus one is built by WithRegisterer; a service without
// a registerer reports to a tracer that does nothing.
type MetricsTracer interface {
	// Sockets: old clients' sockets open now.
	Sockets(n int)
	// Members: addresses joined now.
	Members(n int)
	// Joined: a join (of one address) succeeded.
	Joined()
	// Refused: the node refused a request or closed a socket or dial.
	Refused(r Refusal)
	// Dial: an ss-dial ended as r.
	Dial(r DialResult)
	// DialsOpen: relayed dials open now.
	DialsOpen(n int)
	// Relayed: bytes carried for a dial.
	Relayed(n int)
	// Announced: ws-peer messages sent.
	Announced(n int)
}

type nopTracer struct{}

func (nopTracer) Sockets(int)     {}
func (nopTracer) Members(int)     {}
func (nopTracer) Joined()         {}
func (nopTracer) Refused(Refusal) {}
func (nopTracer) Dial(DialResult) {}
func (nopTracer) DialsOpen(int)   {}
func (nopTracer) Relayed(int)     {}
func (nopTracer) Announced(int)   {}

type promTracer struct {
	set       *promreg.Set
	sockets   prometheus.Gauge
	members   prometheus.Gauge
	joins     prometheus.Counter
	refusals  *prometheus.CounterVec
	dials     *prometheus.CounterVec
	dialsOpen prometheus.Gauge
	relayed   prometheus.Counter
	announced prometheus.Counter
}

func newPromTracer(reg prometheus.Registerer) (*promTracer, error) {
	m := &promTracer{
		sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_legacy_sockets",
			Help: "Old ws-star clients' socket.io sockets open.",
		}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_legacy_members",
			Help: "Addresses joined by old ws-star clients.",
		}),
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_legacy_joins_total",
			Help: "Addresses old ws-star clients joined (refused joins are in rendezvous_legacy_refusals_total).",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_legacy_refusals_total",
			Help: "Requests of old ws-star clients refused, and sockets and dials the node ended, by reason (a check, or the legacy.* setting of a limit).",
		}, []string{"reason"}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_legacy_dials_total",
			Help: "Relayed dials old ws-star clients asked for, by result.",
		}, []string{"result"}),
		dialsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_legacy_dials",
			Help: "Relayed dials of old ws-star clients open.",
		}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_legacy_relayed_bytes_total",
			Help: "Bytes relayed between old ws-star clients.",
		}),
		announced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_legacy_announcements_total",
			Help: "ws-peer messages sent to old ws-star clients (one per new address and other socket).",
		}),
	}
	for _, r := range refusals {
		m.refusals.WithLabelValues(string(r))
	}
	for _, r := range []DialResult{DialOK, DialRefused, DialRejected} {
		m.dials.WithLabelValues(string(r))
	}
	var err error
	m.set, err = promreg.Register(reg, m.sockets, m.members, m.joins, m.refusals, m.dials, m.dialsOpen, m.relayed, m.announced)
	if err != nil {
		return nil, errors.Join(errors.New("legacy: register metrics"), err)
	}
	return m, nil
}

func (m *promTracer) Sockets(n int)     { m.sockets.Set(float64(n)) }
func (m *promTracer) Members(n int)     { m.members.Set(float64(n)) }
func (m *promTracer) Joined()           { m.joins.Inc() }
func (m *promTracer) Refused(r Refusal) { m.refusals.WithLabelValues(string(r)).Inc() }
func (m *promTracer) Dial(r DialResult) { m.dials.WithLabelValues(string(r)).Inc() }
func (m *promTracer) DialsOpen(n int)   { m.dialsOpen.Set(float64(n)) }
func (m *promTracer) Relayed(n int)     { m.relayed.Add(float64(n)) }
func (m *promTracer) Announced(n int)   { m.announced.Add(float64(n)) }
