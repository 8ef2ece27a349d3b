package pubsub

import (
	"math"
	"strconv"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
)

// Defaults of Limits.
const (
	// DefaultAnnounceInterval is pubsub-peer-discovery's own interval: the
	// node announces each member of a discovery topic at most once per
	// interval.
	DefaultAnnounceInterval = 10 * time.Second
	// DefaultAnnouncementsPerInterval: with 64 members or fewer, every
	// subscriber learns every member within two intervals; in larger topics,
	// 96 distinct members in three.
	DefaultAnnouncementsPerInterval = 32
	// DefaultMaxAnnouncementSize fits a 4096-bit RSA key and 16 long
	// addresses.
	DefaultMaxAnnouncementSize = 4096
	DefaultMaxAddrs            = 16
	// DefaultMaxMessageSize caps a message on a relayed topic.
	DefaultMaxMessageSize = 64 << 10
	DefaultMessageRate    = 10
	DefaultMessageBurst   = 20
)

// MaxAnnouncementsPerSecond bounds announcements_per_interval over
// announce_interval: each announcement goes to every subscriber of the topic.
const MaxAnnouncementsPerSecond = 100

// Limits bound what the pubsub service does for remote peers. The JSON names
// are the keys of the node's "pubsub" config section.
type Limits struct {
	// AnnounceInterval is the shortest time between two announcements of
	// one member on one discovery topic.
	AnnounceInterval setting.Duration `json:"announce_interval"`
	// AnnouncementsPerInterval caps the announcements the node publishes on
	// one discovery topic per interval; each reaches every subscriber, so
	// it bounds the topic's deliveries per subscriber, whatever its size.
	AnnouncementsPerInterval int `json:"announcements_per_interval"`
	// MaxAnnouncementSize and MaxAddrs bound a discovery message; larger
	// ones are rejected and count against their sender's score.
	MaxAnnouncementSize int `json:"max_announcement_size"`
	MaxAddrs            int `json:"max_addrs"`
	// MaxMessageSize caps a message on a relayed topic; the RPCs the node
	// reads are capped a little above it.
	MaxMessageSize int `json:"max_message_size"`
	// MessageRate and MessageBurst: messages per second one peer may send
	// on one relayed topic; the rest are ignored, not forwarded.
	MessageRate  float64 `json:"message_rate"`
	MessageBurst int     `json:"message_burst"`
}

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	return Limits{
		AnnounceInterval:         setting.Duration(DefaultAnnounceInterval),
		AnnouncementsPerInterval: DefaultAnnouncementsPerInterval,
		MaxAnnouncementSize:      DefaultMaxAnnouncementSize,
		MaxAddrs:                 DefaultMaxAddrs,
		MaxMessageSize:           DefaultMaxMessageSize,
		MessageRate:              DefaultMessageRate,
		MessageBurst:             DefaultMessageBurst,
	}
}

// Validate reports every field out of range, by its JSON name.
func (l Limits) Validate() error {
	var ps setting.Problems
	ps.DurRange("announce_interval", l.AnnounceInterval, time.Second, time.Hour, "")
	ps.IntRange("announcements_per_interval", l.AnnouncementsPerInterval, 1, 10_000)
	if l.AnnounceInterval.D() >= time.Second && l.AnnouncementsPerInterval >= 1 &&
		float64(l.AnnouncementsPerInterval)/l.AnnounceInterval.D().Seconds() > MaxAnnouncementsPerSecond {
		ps.Add("announcements_per_interval", strconv.Itoa(l.AnnouncementsPerInterval),
			"more than "+strconv.Itoa(MaxAnnouncementsPerSecond)+" a second with announce_interval "+l.AnnounceInterval.String())
	}
	ps.IntRange("max_announcement_size", l.MaxAnnouncementSize, 256, 64<<10)
	ps.IntRange("max_addrs", l.MaxAddrs, 1, 1000)
	ps.IntRange("max_message_size", l.MaxMessageSize, 1024, 4<<20)
	ps.Rate("message_rate", l.MessageRate)
	ps.IntRange("message_burst", l.MessageBurst, 1, math.MaxInt32)
	return ps.Err()
}
