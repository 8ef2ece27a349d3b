package wsstar

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/registry"
)

// Defaults of the knobs; see docs/protocol.md.
const (
	DefaultDefaultMaxPeers   = 64
	DefaultMaxPeers          = 256
	DefaultFlushInterval     = 100 * time.Millisecond
	DefaultMaxJoinsPerStream = 16
	DefaultMaxStreamsPerPeer = 4
	DefaultMaxViews          = 100_000
	DefaultMaxPendingEvents  = 1024
	DefaultJoinRate          = rate.Limit(5)
	DefaultJoinBurst         = 20
	DefaultWriteTimeout      = 10 * time.Second
)

// maxMaxPeers keeps a full snapshot (with at least a peer id and a few
// addresses per event) under the 1 MiB message cap.
const maxMaxPeers = 4096

type config struct {
	defaultMaxPeers   int
	maxPeers          int
	flushInterval     time.Duration
	maxJoinsPerStream int
	maxStreamsPerPeer int
	maxViews          int
	maxPendingEvents  int
	maxPendingRecords int
	joinRate          rate.Limit
	joinBurst         int
	writeTimeout      time.Duration
	registerer        prometheus.Registerer
	logger            *slog.Logger
	limits            limits.Observer
	policy            registry.Policy
}

func defaults() config {
	return config{
		defaultMaxPeers:   DefaultDefaultMaxPeers,
		maxPeers:          DefaultMaxPeers,
		flushInterval:     DefaultFlushInterval,
		maxJoinsPerStream: DefaultMaxJoinsPerStream,
		maxStreamsPerPeer: DefaultMaxStreamsPerPeer,
		maxViews:          DefaultMaxViews,
		maxPendingEvents:  DefaultMaxPendingEvents,
		maxPendingRecords: maxPendingRecords,
		joinRate:          DefaultJoinRate,
		joinBurst:         DefaultJoinBurst,
		writeTimeout:      DefaultWriteTimeout,
		limits:            limits.Nop{},
	}
}

// WithLimitObserver is told of every request a limit refused, by the name of
// the limit (see internal/limits).
func WithLimitObserver(o limits.Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.Join(errOption, errors.New("nil limit observer"))
		}
		c.limits = o
		return nil
	}
}

// Option configures a Service.
type Option func(*config) error

var errOption = errors.New("wsstar: invalid option")

func positive(n int, name string) error {
	if n <= 0 {
		return errors.Join(errOption, errors.New(name+" must be positive"))
	}
	return nil
}

// WithDefaultMaxPeers sets the view size for a Join with max_peers 0.
func WithDefaultMaxPeers(n int) Option {
	return func(c *config) error { c.defaultMaxPeers = n; return positive(n, "default max peers") }
}

// WithPolicy applies the namespace policy to joins: namespaces it does not
// allow are refused E_NOT_AUTHORIZED, even to watchers, and its view-size
// overrides replace WithMaxPeers for their namespaces (at most 4096). The
// registry enforces its member caps. Default: every namespace.
func WithPolicy(p registry.Policy) Option {
	return func(c *config) error {
		for _, o := range p.Overrides {
			if o.MaxViewSize < 0 || o.MaxViewSize > maxMaxPeers {
				return errors.Join(errOption, fmt.Errorf("view size of prefix %q: want 0 to 4096, got %d", o.Prefix, o.MaxViewSize))
			}
		}
		c.policy = p
		return nil
	}
}

// WithMaxPeers sets the largest view size a Join may ask for (larger requests
// are clamped). At most 4096.
func WithMaxPeers(n int) Option {
	return func(c *config) error {
		c.maxPeers = n
		if n > maxMaxPeers {
			return errors.Join(errOption, errors.New("max peers above 4096"))
		}
		return positive(n, "max peers")
	}
}

// WithFlushInterval sets how long changes are coalesced before they are sent.
func WithFlushInterval(d time.Duration) Option {
	return func(c *config) error {
		c.flushInterval = d
		return positive(int(d), "flush interval")
	}
}

// WithMaxJoinsPerStream caps the namespaces joined at once on one stream.
func WithMaxJoinsPerStream(n int) Option {
	return func(c *config) error { c.maxJoinsPerStream = n; return positive(n, "joins per stream") }
}

// WithMaxStreamsPerPeer caps the concurrent /ws-star/1.0.0 streams of a peer.
func WithMaxStreamsPerPeer(n int) Option {
	return func(c *config) error { c.maxStreamsPerPeer = n; return positive(n, "streams per peer") }
}

// WithMaxViews caps the views (accepted joins) of the whole node.
func WithMaxViews(n int) Option {
	return func(c *config) error { c.maxViews = n; return positive(n, "max views") }
}

// WithMaxPendingEvents ends a view with Closed{OVERFLOW} when it has
// accumulated more changes than n (counted before coalescing) that its stream
// has not taken for writing.
func WithMaxPendingEvents(n int) Option {
	return func(c *config) error { c.maxPendingEvents = n; return positive(n, "max pending events") }
}

// withMaxPendingRecords bounds the identify records waiting for the service
// (default maxPendingRecords); records of further peers are dropped.
func withMaxPendingRecords(n int) Option {
	return func(c *config) error { c.maxPendingRecords = n; return positive(n, "max pending records") }
}

// WithJoinRate sets the per-peer token bucket for joins.
func WithJoinRate(r rate.Limit, burst int) Option {
	return func(c *config) error {
		c.joinRate, c.joinBurst = r, burst
		if r <= 0 {
			return errors.Join(errOption, errors.New("join rate must be positive"))
		}
		return positive(burst, "join burst")
	}
}

// WithWriteTimeout bounds every write to a stream; a stream that cannot take
// a message within it is reset.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) error { c.writeTimeout = d; return positive(int(d), "write timeout") }
}

// WithRegisterer registers the service's metrics on r (default: none).
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) error { c.registerer = r; return nil }
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}
