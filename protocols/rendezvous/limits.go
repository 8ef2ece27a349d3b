package rendezvous

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/registry"
)

const (
	// MaxMessageSize bounds an inbound frame. A REGISTER carries one signed
	// peer record, a DISCOVER a cookie; neither needs more.
	MaxMessageSize = 64 << 10

	// maxResponseSize bounds an outbound DISCOVER_RESPONSE. rust-libp2p's
	// codec refuses frames above 1 MiB, so a page stops short of it and the
	// cookie lets the client fetch the rest.
	maxResponseSize = 1<<20 - 4<<10

	// MaxNamespaceLen is the spec's namespace limit in bytes.
	MaxNamespaceLen = registry.MaxNamespaceLen

	// cursorLen is the fixed prefix of a cookie: the registry cursor.
	cursorLen = 8

	// maxCookieLen is the longest cookie we hand out and accept.
	maxCookieLen = cursorLen + MaxNamespaceLen

	// maxDiscoverRounds bounds the registry pages read to fill one DISCOVER
	// when registrations in the other record format are skipped.
	maxDiscoverRounds = 4

	// maxBoundPerPeer is the size of a peer's set of presence-bound
	// namespaces above which expired ones are pruned from it.
	maxBoundPerPeer = 64

	// overflowReadTimeout is how long a stream over the per-peer limit may
	// take to send the request that gets its E_UNAVAILABLE.
	overflowReadTimeout = 5 * time.Second
)

// Defaults of the limits; see DefaultLimits.
const (
	DefaultMinTTL            = 60 * time.Second
	DefaultTTL               = 2 * time.Hour
	DefaultMaxTTL            = 72 * time.Hour
	DefaultDiscoverLimit     = 100
	DefaultMaxDiscoverLimit  = 1000
	DefaultRequestRate       = 10.0
	DefaultRequestBurst      = 20
	DefaultPresenceGrace     = 30 * time.Second
	DefaultStreamTimeout     = 30 * time.Second
	DefaultMaxStreamsPerPeer = 8
	DefaultMaxTrackedPeers   = 1 << 16
	// DefaultMaxRegistrationsPerSource: eight peers' worth of
	// registry.max_registrations_per_peer from one address.
	DefaultMaxRegistrationsPerSource = 256
)

// Bounds of the limits.
const (
	// SpecMaxTTL is the rendezvous spec's maximum registration TTL.
	SpecMaxTTL = 72 * time.Hour
	// DiscoverLimitCap bounds max_discover_limit: one DISCOVER response must
	// stay well under a stream's message size limit.
	DiscoverLimitCap = 10000
)

// Limits are the service's settings, the "rendezvous" section of the node's
// configuration file (docs/config.md), whose JSON keys the tags give.
type Limits struct {
	// MinTTL, DefaultTTL and MaxTTL bound the registration TTLs accepted;
	// DefaultTTL is granted to a REGISTER that names none.
	MinTTL     setting.Duration `json:"min_ttl"`
	DefaultTTL setting.Duration `json:"default_ttl"`
	MaxTTL     setting.Duration `json:"max_ttl"`
	// DiscoverLimit is the number of results when a DISCOVER names none;
	// MaxDiscoverLimit caps what a client may ask (larger limits are
	// clamped).
	DiscoverLimit    int `json:"discover_limit"`
	MaxDiscoverLimit int `json:"max_discover_limit"`
	// RequestRate and RequestBurst form each peer's token bucket for
	// REGISTER and DISCOVER requests.
	RequestRate  float64 `json:"request_rate"`
	RequestBurst int     `json:"request_burst"`
	// PresenceBinding drops registrations reachable only through this node's
	// relay once the peer has been disconnected for PresenceGrace.
	PresenceBinding bool             `json:"presence_binding"`
	PresenceGrace   setting.Duration `json:"presence_grace"`
	// StreamTimeout is how long a stream may stay idle between requests and
	// how long one request and its reply may take.
	StreamTimeout setting.Duration `json:"stream_timeout"`
	// MaxStreamsPerPeer caps the concurrent rendezvous streams of one peer.
	MaxStreamsPerPeer int `json:"max_streams_per_peer"`
	// MaxRegistrationsPerIP caps the registrations taken from one source
	// address (an IPv4 address or an IPv6 /56) by all its peers together,
	// counted until each registration leaves the registry; see
	// WithTrustedSubnets for the exempt sources. A registration outlives its
	// peer's connection, so this is what keeps fresh peer IDs from one
	// address from filling the registry for good.
	MaxRegistrationsPerIP int `json:"max_registrations_per_ip"`
}

// DefaultLimits are the limits of a Service given no WithLimits.
func DefaultLimits() Limits {
	return Limits{
		MinTTL:                setting.Duration(DefaultMinTTL),
		DefaultTTL:            setting.Duration(DefaultTTL),
		MaxTTL:                setting.Duration(DefaultMaxTTL),
		DiscoverLimit:         DefaultDiscoverLimit,
		MaxDiscoverLimit:      DefaultMaxDiscoverLimit,
		RequestRate:           DefaultRequestRate,
		RequestBurst:          DefaultRequestBurst,
		PresenceBinding:       true,
		PresenceGrace:         setting.Duration(DefaultPresenceGrace),
		StreamTimeout:         setting.Duration(DefaultStreamTimeout),
		MaxStreamsPerPeer:     DefaultMaxStreamsPerPeer,
		MaxRegistrationsPerIP: DefaultMaxRegistrationsPerSource,
	}
}

// Validate reports every field out of its bounds, as setting.Problems whose
// paths are the JSON keys.
func (l Limits) Validate() error {
	var ps setting.Problems
	ps.DurRange("min_ttl", l.MinTTL, time.Second, SpecMaxTTL, "")
	ps.DurRange("default_ttl", l.DefaultTTL, time.Second, SpecMaxTTL, "")
	ps.DurRange("max_ttl", l.MaxTTL, time.Second, SpecMaxTTL, "the rendezvous spec's maximum is 72h")
	if l.DefaultTTL < l.MinTTL {
		ps.Add("default_ttl", setting.QuoteDuration(l.DefaultTTL), fmt.Sprintf("must be at least rendezvous.min_ttl (%s)", l.MinTTL))
	}
	if l.MaxTTL < l.DefaultTTL {
		ps.Add("max_ttl", setting.QuoteDuration(l.MaxTTL), fmt.Sprintf("must be at least rendezvous.default_ttl (%s)", l.DefaultTTL))
	}
	ps.IntRange("discover_limit", l.DiscoverLimit, 1, DiscoverLimitCap)
	ps.IntRange("max_discover_limit", l.MaxDiscoverLimit, 1, DiscoverLimitCap)
	if l.DiscoverLimit > l.MaxDiscoverLimit && l.MaxDiscoverLimit >= 1 {
		ps.Add("discover_limit", strconv.Itoa(l.DiscoverLimit), fmt.Sprintf("must be at most rendezvous.max_discover_limit (%d)", l.MaxDiscoverLimit))
	}
	ps.Rate("request_rate", l.RequestRate)
	ps.IntRange("request_burst", l.RequestBurst, 1, math.MaxInt32)
	ps.DurRange("presence_grace", l.PresenceGrace, 0, time.Hour, "")
	if l.PresenceBinding && l.PresenceGrace == 0 {
		ps.Add("presence_grace", setting.QuoteDuration(l.PresenceGrace), "must be greater than 0s while rendezvous.presence_binding is true")
	}
	ps.DurRange("stream_timeout", l.StreamTimeout, time.Second, 10*time.Minute, "")
	ps.IntRange("max_streams_per_peer", l.MaxStreamsPerPeer, 1, 1024)
	ps.IntRange("max_registrations_per_ip", l.MaxRegistrationsPerIP, 1, math.MaxInt32)
	return ps.Err()
}
