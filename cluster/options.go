package cluster

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/registry"
)

// Option configures a Registry.
type Option func(*options)

type options struct {
	bucket       string
	replicas     int
	leaseTTL     time.Duration
	writeTimeout time.Duration
	limits       registry.Limits
	registerer   prometheus.Registerer
	logger       *slog.Logger
	version      string
}

// The bucket and the lease TTL have no default here: config.Default holds
// them, and New refuses to run without them.
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
		replicas:     1,
		writeTimeout: defaultWriteTimeout,
		limits:       registry.DefaultLimits(),
		logger:       slog.Default(),
	}
}

// WithBucket names the key-value bucket (created when missing); required.
func WithBucket(name string) Option { return func(o *options) { o.bucket = name } }

// WithReplicas sets the bucket's replica count when the registry creates it.
func WithReplicas(n int) Option { return func(o *options) { o.replicas = max(n, 1) } }

// WithLeaseTTL sets how long a node may go without a heartbeat before the
// others drop its peers (required, at least a second). Heartbeats go every
// third of it.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.leaseTTL = d
		}
	}
}

// WithWriteTimeout bounds one write (default 2 s).
func WithWriteTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.writeTimeout = d
		}
	}
}

// WithLimits sets the registry limits, checked against the local copy.
func WithLimits(l registry.Limits) Option { return func(o *options) { o.limits = l } }

// WithRegisterer exports the cluster's metrics (and the local copy's) to r.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithLogger sets the logger; nil keeps slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithVersion is the software version other nodes show for this one.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }
