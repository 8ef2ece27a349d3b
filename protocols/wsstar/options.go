package wsstar

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/registry"
)

// config is what New runs with: DefaultLimits, then the options in order.
type config struct {
	lim               Limits
	maxPendingRecords int
	registerer        prometheus.Registerer
	logger            *slog.Logger
	limits            limits.Observer
	policy            registry.Policy
}

func defaults() config {
	return config{
		lim:               DefaultLimits(),
		maxPendingRecords: maxPendingRecords,
		logger:            slog.Default(),
		limits:            limits.Nop{},
	}
}

// Option configures a Service. An option that cannot be applied makes New
// fail with an error starting "wsstar: ".
type Option func(*config) error

// WithLimits replaces DefaultLimits; l must pass Limits.Validate.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("wsstar: invalid limits: %w", err)
		}
		c.lim = l
		return nil
	}
}

// WithPolicy applies the namespace policy to joins: namespaces it does not
// allow are refused E_NOT_AUTHORIZED, even to watchers, and its view-size
// overrides replace Limits.MaxPeers for their namespaces (at most
// MaxViewSize). The registry enforces its member caps. Default: every
// namespace.
func WithPolicy(p registry.Policy) Option {
	return func(c *config) error {
		for _, o := range p.Overrides {
			if o.MaxViewSize < 0 || o.MaxViewSize > MaxViewSize {
				return fmt.Errorf("wsstar: view size of prefix %q: want 0 to %d, got %d", o.Prefix, MaxViewSize, o.MaxViewSize)
			}
		}
		c.policy = p
		return nil
	}
}

// WithLimitObserver is told of every request a limit refused, by the name of
// the limit (see internal/limits).
func WithLimitObserver(o limits.Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("wsstar: nil limit observer")
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

// WithLogger sets the logger, to which the service adds its "protocol"
// attribute. Default: slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("wsstar: nil logger")
		}
		c.logger = l
		return nil
	}
}

// withMaxPendingRecords bounds the identify records waiting for the service
// (default maxPendingRecords); records of further peers are dropped. For
// tests.
func withMaxPendingRecords(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("wsstar: max pending records must be positive, got %d", n)
		}
		c.maxPendingRecords = n
		return nil
	}
}
