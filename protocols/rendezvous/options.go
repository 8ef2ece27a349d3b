package rendezvous

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/limits"
)

// config is what New runs with: DefaultLimits, then the options in order.
type config struct {
	lim             Limits
	reg             prometheus.Registerer
	log             *slog.Logger
	maxTrackedPeers int
	limits          limits.Observer
	exempt          []netip.Prefix
}

func defaultConfig() config {
	return config{
		lim:             DefaultLimits(),
		log:             slog.Default(),
		maxTrackedPeers: DefaultMaxTrackedPeers,
		limits:          limits.Nop{},
		exempt:          []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
}

// Option configures a Service. An option that cannot be applied makes New
// fail with an error starting "rendezvous: ".
type Option func(*config) error

// WithLimits replaces DefaultLimits; l must pass Limits.Validate.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("rendezvous: invalid limits: %w", err)
		}
		c.lim = l
		return nil
	}
}

// WithTrustedSubnets exempts the sources inside the prefixes (a TLS proxy in
// front of the node, say) from Limits.MaxRegistrationsPerIP. Default:
// loopback.
func WithTrustedSubnets(exempt []netip.Prefix) Option {
	return func(c *config) error {
		c.exempt = exempt
		return nil
	}
}

// WithMaxTrackedPeers caps the peers the service keeps state for (rate
// buckets, record format, stream counts). Entries leave when the peer
// disconnects, so the node's connection limit is the natural value; beyond
// the cap new peers are answered E_UNAVAILABLE. Default: 65536.
func WithMaxTrackedPeers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("rendezvous: max tracked peers must be at least 1, got %d", n)
		}
		c.maxTrackedPeers = n
		return nil
	}
}

// WithRegisterer registers the service's metrics with reg, and Close removes
// them. Default, or a nil reg: no metrics are registered.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) error {
		c.reg = reg
		return nil
	}
}

// WithLogger sets the logger, to which the service adds its "protocol"
// attribute. Default: slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("rendezvous: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithLimitObserver is told of every request a limit refused, by the name of
// the limit (see internal/limits).
func WithLimitObserver(o limits.Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("rendezvous: nil limit observer")
		}
		c.limits = o
		return nil
	}
}
