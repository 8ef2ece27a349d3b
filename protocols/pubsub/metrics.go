package pubsub

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// Result is what became of one received message; it is the "result" label
// of rendezvous_pubsub_messages_total.
type Result string

const (
	// Announced: a valid announcement on a discovery topic, from its own
	// publisher, connected to the node: its publisher is (still) a member.
	// The node does not forward it: it announces members itself.
	Announced Result = "announced"
	// Relayed: a message on a relayed topic, accepted and forwarded.
	Relayed Result = "relayed"
	// Junk: not a Peer message, too large, too many or invalid addresses,
	// an invalid key. Rejected: the sender's score drops.
	Junk Result = "junk"
	// Forged: the key announced is not the publisher's. Rejected.
	Forged Result = "forged"
	// BadSignature: the message is unsigned or its signature is not its
	// author's (StrictSign). Rejected by gossipsub before any validator.
	BadSignature Result = "bad_signature"
	// TooLarge: a message on a relayed topic above max_message_size. Rejected.
	TooLarge Result = "too_large"
	// OverRate: above the per-peer rate of the topic. Ignored, no penalty.
	OverRate Result = "over_rate"
	// Indirect: an announcement forwarded by another peer than its author,
	// whose author is not connected to the node (only peers connected to
	// the node become members) or which is not newer than the author's last
	// counted one. Ignored. (A newer copy of a connected author counts as
	// Announced.)
	Indirect Result = "indirect"
	// Unserved: a message on a topic the node does not serve. Dropped.
	Unserved Result = "unserved_topic"
	// Throttled: dropped because the node's validation queue was full.
	Throttled Result = "throttled"
)

// OtherTopic is the topic label of messages on topics the node does not
// serve, so that remote peers cannot grow the label set.
const OtherTopic = "other"

// MetricsTracer is told what the service does; it is the service's only view
// of metrics. The Prometheus one is built by WithRegisterer; a service without
// a registerer reports to a tracer that does nothing.
type MetricsTracer interface {
	// Message: a received message on topic (a served one, or OtherTopic)
	// had result r.
	Message(topic string, r Result)
	// Published: the node announced n members on a discovery topic.
	Published(topic string, n int)
	// Subscribers: the peers subscribed to a served topic, now.
	Subscribers(topic string, n int)
	// MembershipHeld: a member's registration was written (held) or
	// removed (!held) by the service.
	MembershipHeld(held bool)
}

type nopTracer struct{}

func (nopTracer) Message(string, Result)  {}
func (nopTracer) Published(string, int)   {}
func (nopTracer) Subscribers(string, int) {}
func (nopTracer) MembershipHeld(bool)     {}

// promTracer is the MetricsTracer of Prometheus collectors, registered as one
// unit when the service starts and removed by its Close.
type promTracer struct {
	set         *promreg.Set
	messages    *prometheus.CounterVec
	published   *prometheus.CounterVec
	subscribers *prometheus.GaugeVec
	members     prometheus.Gauge
}

// results are the Result values a topic's messages can have; their series
// start at 0.
var results = []Result{Announced, Relayed, Junk, Forged, BadSignature, TooLarge, OverRate, Indirect, Throttled}

func newPromTracer(reg prometheus.Registerer, discovery, relayed []string) (*promTracer, error) {
	m := &promTracer{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_pubsub_messages_total",
			Help: "Pubsub messages received, by topic (\"other\" for topics not served) and result.",
		}, []string{"topic", "result"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_pubsub_announcements_total",
			Help: "Announcements of members the node published, by discovery topic; each goes to every subscriber.",
		}, []string{"topic"}),
		subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rendezvous_pubsub_subscribers",
			Help: "Peers subscribed to a served topic through the node.",
		}, []string{"topic"}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_pubsub_members",
			Help: "Namespace memberships held by pubsub announcements.",
		}),
	}
	for _, t := range append(append([]string(nil), discovery...), relayed...) {
		m.subscribers.WithLabelValues(t)
		for _, r := range results {
			m.messages.WithLabelValues(t, string(r))
		}
	}
	for _, t := range discovery {
		m.published.WithLabelValues(t)
	}
	m.messages.WithLabelValues(OtherTopic, string(Unserved))
	var err error
	m.set, err = promreg.Register(reg, m.messages, m.published, m.subscribers, m.members)
	if err != nil {
		return nil, errors.Join(errors.New("pubsub: register metrics"), err)
	}
	return m, nil
}

func (m *promTracer) Message(topic string, r Result) {
	m.messages.WithLabelValues(topic, string(r)).Inc()
}
func (m *promTracer) Published(topic string, n int) {
	m.published.WithLabelValues(topic).Add(float64(n))
}
func (m *promTracer) Subscribers(topic string, n int) {
	m.subscribers.WithLabelValues(topic).Set(float64(n))
}

func (m *promTracer) MembershipHeld(held bool) {
	if held {
		m.members.Inc()
	} else {
		m.members.Dec()
	}
}
