package wsstar

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
)

// Defaults of the limits; see DefaultLimits and docs/protocol.md.
const (
	DefaultDefaultMaxPeers   = 64
	DefaultMaxPeers          = 256
	DefaultFlushInterval     = 100 * time.Millisecond
	DefaultMaxJoinsPerStream = 16
	DefaultMaxStreamsPerPeer = 4
	DefaultMaxViews          = 100_000
	DefaultMaxPendingEvents  = 1024
	DefaultJoinRate          = 5
	DefaultJoinBurst         = 20
	DefaultWriteTimeout      = 10 * time.Second
)

// MaxViewSize bounds max_peers, default_max_peers and a namespace override's
// view size. A full snapshot must fit in one message of MaxServerMessageSize
// (1 MiB): at 1024 members each event still has about 1 KiB, room for a
// signed peer record with its addresses; the per-event budget shrinks as the
// view grows (at 4096, 255 bytes: records no longer fit).
const MaxViewSize = 1024

// Limits are the service's settings, the "wsstar" section of the node's
// configuration file (docs/config.md), whose JSON keys the tags give.
type Limits struct {
	// DefaultMaxPeers is the view size of a Join with max_peers 0; at most
	// MaxPeers.
	DefaultMaxPeers int `json:"default_max_peers"`
	// MaxPeers is the largest view size a Join may ask for (larger requests
	// are clamped); at most MaxViewSize.
	MaxPeers int `json:"max_peers"`
	// FlushInterval is how long changes are coalesced before they are sent.
	FlushInterval setting.Duration `json:"flush_interval"`
	// MaxJoinsPerStream caps the namespaces joined at once on one stream.
	MaxJoinsPerStream int `json:"max_joins_per_stream"`
	// MaxStreamsPerPeer caps the concurrent /ws-star/1.0.0 streams of a peer.
	MaxStreamsPerPeer int `json:"max_streams_per_peer"`
	// MaxViews caps the views (accepted joins) of the whole node.
	MaxViews int `json:"max_views"`
	// MaxPendingEvents ends a view with Closed{OVERFLOW} when it has
	// accumulated more changes than this (counted before coalescing) that
	// its stream has not taken for writing.
	MaxPendingEvents int `json:"max_pending_events"`
	// JoinRate and JoinBurst are each peer's token bucket for joins.
	JoinRate  float64 `json:"join_rate"`
	JoinBurst int     `json:"join_burst"`
	// WriteTimeout bounds every write to a stream; a stream that cannot take
	// a message within it is reset.
	WriteTimeout setting.Duration `json:"write_timeout"`
}

// DefaultLimits are the limits of a Service given no WithLimits.
func DefaultLimits() Limits {
	return Limits{
		DefaultMaxPeers:   DefaultDefaultMaxPeers,
		MaxPeers:          DefaultMaxPeers,
		FlushInterval:     setting.Duration(DefaultFlushInterval),
		MaxJoinsPerStream: DefaultMaxJoinsPerStream,
		MaxStreamsPerPeer: DefaultMaxStreamsPerPeer,
		MaxViews:          DefaultMaxViews,
		MaxPendingEvents:  DefaultMaxPendingEvents,
		JoinRate:          DefaultJoinRate,
		JoinBurst:         DefaultJoinBurst,
		WriteTimeout:      setting.Duration(DefaultWriteTimeout),
	}
}

// Validate reports every field out of its bounds, as setting.Problems whose
// paths are the JSON keys.
func (l Limits) Validate() error {
	var ps setting.Problems
	ps.IntRange("default_max_peers", l.DefaultMaxPeers, 1, MaxViewSize)
	ps.IntRange("max_peers", l.MaxPeers, 1, MaxViewSize)
	if l.DefaultMaxPeers > l.MaxPeers && l.MaxPeers >= 1 {
		ps.Add("default_max_peers", strconv.Itoa(l.DefaultMaxPeers), fmt.Sprintf("must be at most wsstar.max_peers (%d)", l.MaxPeers))
	}
	ps.DurRange("flush_interval", l.FlushInterval, 10*time.Millisecond, 10*time.Second, "")
	ps.IntRange("max_joins_per_stream", l.MaxJoinsPerStream, 1, math.MaxInt32)
	ps.IntRange("max_streams_per_peer", l.MaxStreamsPerPeer, 1, math.MaxInt32)
	ps.IntRange("max_views", l.MaxViews, 1, math.MaxInt32)
	ps.IntRange("max_pending_events", l.MaxPendingEvents, 1, math.MaxInt32)
	ps.Rate("join_rate", l.JoinRate)
	ps.IntRange("join_burst", l.JoinBurst, 1, math.MaxInt32)
	ps.DurRange("write_timeout", l.WriteTimeout, time.Second, 5*time.Minute, "")
	return ps.Err()
}
