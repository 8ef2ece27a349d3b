package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/registry"
)

// Option configures a Registry. An option that cannot be applied makes New
// fail with an error starting "cluster: ".
type Option func(*options) error

type options struct {
	lim            Limits
	writeTimeout   time.Duration
	registryLimits registry.Limits
	policy         registry.Policy
	registerer     prometheus.Registerer
	logger         *slog.Logger
	version        string
}

const (
	// defaultWriteTimeout bounds a write to JetStream and the wait for the
	// local copy to apply it; after it the write is applied locally and
	// retried in the background.
	defaultWriteTimeout = 2 * time.Second
	// markerTTL is how long a removal stays in the bucket: long enough for a
	// node whose watch was interrupted to catch up without a full resync.
	markerTTL = 15 * time.Minute
	// leaseKeyFactor: the lease key outlives the heartbeats by this factor,
	// so a JetStream leader election (4–9 s) does not make a live node look
	// gone to the janitor; liveness itself follows the heartbeats.
	leaseKeyFactor = 10
	// maxNodes bounds the node table against a flood of forged heartbeats.
	maxNodes = 1024
)

func defaultOptions() options {
	return options{
		lim:            DefaultLimits(),
		writeTimeout:   defaultWriteTimeout,
		registryLimits: registry.DefaultLimits(),
		logger:         slog.Default(),
	}
}

// WithLimits replaces DefaultLimits; l must pass Limits.Validate.
func WithLimits(l Limits) Option {
	return func(o *options) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("cluster: invalid limits: %w", err)
		}
		o.lim = l
		return nil
	}
}

// WithRegistryLimits sets the limits of the registry, checked against the
// local copy; they must pass registry.Limits.Validate. Default:
// registry.DefaultLimits.
func WithRegistryLimits(l registry.Limits) Option {
	return func(o *options) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("cluster: invalid registry limits: %w", err)
		}
		o.registryLimits = l
		return nil
	}
}

// WithPolicy sets the namespace policy of the registry (see
// registry.WithPolicy).
func WithPolicy(p registry.Policy) Option {
	return func(o *options) error {
		o.policy = p
		return nil
	}
}

// withWriteTimeout bounds one write (default 2 s). For tests.
func withWriteTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("cluster: write timeout must be positive, got %v", d)
		}
		o.writeTimeout = d
		return nil
	}
}

// WithRegisterer exports the cluster's metrics (and the local copy's) to r,
// and Close removes them. Default, or a nil r: no metrics are registered.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) error {
		o.registerer = r
		return nil
	}
}

// WithLogger sets the logger (of the local copy too). Default:
// slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("cluster: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithVersion is the software version other nodes show for this one.
func WithVersion(v string) Option {
	return func(o *options) error {
		o.version = v
		return nil
	}
}
