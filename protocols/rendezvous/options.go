package rendezvous

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/limits"
)

type config struct {
	minTTL, defTTL, maxTTL time.Duration
	defLimit, maxLimit     int
	rate                   float64
	burst                  int
	presence               bool
	grace                  time.Duration
	reg                    prometheus.Registerer
	log                    *slog.Logger
	streamTimeout          time.Duration
	maxStreamsPerPeer      int
	maxTrackedPeers        int
	limits                 limits.Observer
	perSource              int
	exempt                 []netip.Prefix
}

func defaultConfig() config {
	return config{
		minTTL:            DefaultMinTTL,
		defTTL:            DefaultTTL,
		maxTTL:            DefaultMaxTTL,
		defLimit:          DefaultDiscoverLimit,
		maxLimit:          DefaultMaxDiscoverLimit,
		rate:              DefaultRequestRate,
		burst:             DefaultRequestBurst,
		presence:          true,
		grace:             DefaultPresenceGrace,
		streamTimeout:     DefaultStreamTimeout,
		maxStreamsPerPeer: DefaultMaxStreamsPerPeer,
		maxTrackedPeers:   DefaultMaxTrackedPeers,
		limits:            limits.Nop{},
		perSource:         DefaultMaxRegistrationsPerSource,
		exempt:            []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
}

// Option configures a Service.
type Option func(*config) error

// WithTTLBounds sets the accepted registration TTLs and the TTL granted when
// a REGISTER names none. Defaults: 60 s, 2 h, 72 h.
func WithTTLBounds(min, def, max time.Duration) Option {
	return func(c *config) error {
		if min < time.Second || def < min || max < def {
			return fmt.Errorf("rendezvous: TTL bounds need 1s <= min <= default <= max, got %v, %v, %v", min, def, max)
		}
		c.minTTL, c.defTTL, c.maxTTL = min, def, max
		return nil
	}
}

// WithDiscoverLimits sets the number of results of a DISCOVER that names no
// limit and the most a client may ask for (larger limits are clamped).
// Defaults: 100, 1000.
func WithDiscoverLimits(def, max int) Option {
	return func(c *config) error {
		if def < 1 || max < def {
			return fmt.Errorf("rendezvous: discover limits need 1 <= default <= max, got %d, %d", def, max)
		}
		c.defLimit, c.maxLimit = def, max
		return nil
	}
}

// WithRequestRate sets each peer's token bucket for REGISTER and DISCOVER
// requests. Defaults: 10/s, burst 20.
func WithRequestRate(perSecond float64, burst int) Option {
	return func(c *config) error {
		if perSecond <= 0 || burst < 1 {
			return fmt.Errorf("rendezvous: request rate needs rate > 0 and burst >= 1, got %v, %d", perSecond, burst)
		}
		c.rate, c.burst = perSecond, burst
		return nil
	}
}

// WithPresenceBinding makes registrations reachable only through this node's
// relay last only while their peer stays connected: they are dropped once
// the peer has been disconnected for grace. Default: on, 30 s.
func WithPresenceBinding(enabled bool, grace time.Duration) Option {
	return func(c *config) error {
		if enabled && grace <= 0 {
			return fmt.Errorf("rendezvous: presence grace must be positive, got %v", grace)
		}
		c.presence, c.grace = enabled, grace
		return nil
	}
}

// WithRegisterer registers the service's metrics with reg. Default: none.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) error {
		c.reg = reg
		return nil
	}
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("rendezvous: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithStreamTimeout sets how long a stream may stay idle between requests
// and how long one request and its reply may take. Default: 30 s.
func WithStreamTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("rendezvous: stream timeout must be positive, got %v", d)
		}
		c.streamTimeout = d
		return nil
	}
}

// WithMaxStreamsPerPeer bounds the concurrent rendezvous streams of one peer.
// Default: 8.
func WithMaxStreamsPerPeer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("rendezvous: max streams per peer must be >= 1, got %d", n)
		}
		c.maxStreamsPerPeer = n
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
			return fmt.Errorf("rendezvous: max tracked peers must be >= 1, got %d", n)
		}
		c.maxTrackedPeers = n
		return nil
	}
}

// WithLimitObserver is told of every request a limit refused, by the name of
// the limit (see internal/limits).
func WithLimitObserver(o limits.Observer) Option {
	return func(c *config) error {
		if o == nil {
			return fmt.Errorf("rendezvous: nil limit observer")
		}
		c.limits = o
		return nil
	}
}

// WithRegistrationsPerSource caps the registrations taken from one source
// address (an IPv4 address or an IPv6 /56) by all its peers together,
// counted until each registration leaves the registry; sources inside exempt
// (a TLS proxy in front of the node, say) are not capped. A registration
// outlives its peer's connection, so this is what keeps fresh peer IDs from
// one address from filling the registry for good. Default: 256, loopback
// exempt.
func WithRegistrationsPerSource(n int, exempt []netip.Prefix) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("rendezvous: registrations per source must be >= 1, got %d", n)
		}
		c.perSource, c.exempt = n, exempt
		return nil
	}
}
