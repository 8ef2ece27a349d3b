package pubsub

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/registry"
)

// RecordSource hands out the signed peer record the node holds for a
// connected peer (from identify), so that a member that joined over pubsub is
// discovered with it, as every other member is.
type RecordSource interface {
	PeerRecord(p peer.ID) (envelope []byte, ok bool)
	// QueryRecord asks connected peer p for its record and calls done with
	// it once the source holds it (not at all when p has none).
	QueryRecord(p peer.ID, done func(envelope []byte))
}

// config is what New runs with: the defaults, then the options in order.
type config struct {
	lim        Limits
	discovery  []string
	relayed    []string
	registerer prometheus.Registerer
	logger     *slog.Logger
	limits     limits.Observer
	policy     registry.Policy
	records    RecordSource
}

func defaults() config {
	return config{
		lim:       DefaultLimits(),
		discovery: []string{DiscoveryTopic},
		logger:    slog.Default(),
		limits:    limits.Nop{},
	}
}

// Option configures a Service. An option that cannot be applied makes New
// fail with an error starting "pubsub: ".
type Option func(*config) error

// WithLimits replaces DefaultLimits; l must pass Limits.Validate.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("pubsub: invalid limits: %w", err)
		}
		c.lim = l
		return nil
	}
}

// WithDiscoveryTopics replaces the discovery topics (default DiscoveryTopic);
// none turns discovery over pubsub off. Each topic is the registry namespace
// of the same name.
func WithDiscoveryTopics(topics ...string) Option {
	return func(c *config) error {
		c.discovery = append([]string(nil), topics...)
		return nil
	}
}

// WithRelayedTopics sets the other topics the node relays as a plain
// gossipsub router (default none).
func WithRelayedTopics(topics ...string) Option {
	return func(c *config) error {
		c.relayed = append([]string(nil), topics...)
		return nil
	}
}

// WithPolicy is the namespace policy: every discovery topic must be a
// namespace it allows, and it caps the members as for every protocol.
func WithPolicy(p registry.Policy) Option {
	return func(c *config) error { c.policy = p; return nil }
}

// WithRecords sets where members' signed peer records come from. Default:
// none (members are registered without one).
func WithRecords(r RecordSource) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("pubsub: nil record source")
		}
		c.records = r
		return nil
	}
}

// WithLimitObserver is told of every registration a limit refused, by the
// name of the limit (see internal/limits).
func WithLimitObserver(o limits.Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("pubsub: nil limit observer")
		}
		c.limits = o
		return nil
	}
}

// WithRegisterer registers the service's metrics on r, and Close removes
// them. Default, or a nil r: no metrics are registered.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) error { c.registerer = r; return nil }
}

// WithLogger sets the logger. Default: slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("pubsub: nil logger")
		}
		c.logger = l
		return nil
	}
}

// checkTopics applies ValidateTopics to the configured lists.
func (c *config) checkTopics() error {
	if err := ValidateTopics(c.discovery, c.relayed, c.policy); err != nil {
		return fmt.Errorf("pubsub: invalid topics: %w", err)
	}
	return nil
}
