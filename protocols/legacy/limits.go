package legacy

import (
	"strconv"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
)

// Defaults of Limits.
const (
	DefaultMaxSockets        = 20_000
	DefaultMaxSocketsPerIP   = 64
	DefaultMaxAddrsPerSocket = 4
	DefaultMaxDialsPerSocket = 64
	DefaultMaxDials          = 10_000
	// DefaultMaxFrameBytes is the largest WebSocket message the node reads
	// from an old client: a relayed chunk of libp2p-websocket-star is at
	// most 64 KiB plus its framing.
	DefaultMaxFrameBytes = 1 << 20
	// DefaultDialBufferBytes bounds what one direction of a relayed dial
	// holds while its receiver has not accepted it yet.
	DefaultDialBufferBytes = 256 << 10
	// DefaultSocketQueueBytes bounds what waits to be written to one
	// socket; a receiver that falls that far behind is closed.
	DefaultSocketQueueBytes = 4 << 20
	DefaultDialIdleTimeout  = 5 * time.Minute
	DefaultJoinTimeout      = 30 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	// DefaultPingInterval and DefaultPingTimeout are socket.io 2's: the
	// client pings every interval and the node closes a socket silent for
	// interval + timeout.
	DefaultPingInterval = 25 * time.Second
	DefaultPingTimeout  = 60 * time.Second
)

// MaxFrameBytes is the largest max_frame_bytes allowed.
const MaxFrameBytes = 1 << 20

// Limits bound what the node does for old ws-star clients. The JSON names
// are the keys of the node's "legacy" config section.
type Limits struct {
	// CryptoChallenge: a join must prove the key of the peer ID it joins
	// as (the old server's default; --disableCryptoChallenge turns it off).
	CryptoChallenge bool `json:"crypto_challenge"`
	// StrictMultiaddr: a joined address must be a ws-star address
	// (<ip or dns>/tcp/<port>/ws or wss/p2p-websocket-star/ipfs/<id>);
	// off, any address ending in /ipfs/<id> or /p2p/<id> is accepted.
	StrictMultiaddr bool `json:"strict_multiaddr"`
	// MaxSockets and MaxSocketsPerIP cap the old clients' sockets, node
	// wide and per remote IP address.
	MaxSockets      int `json:"max_sockets"`
	MaxSocketsPerIP int `json:"max_sockets_per_ip"`
	// MaxAddrsPerSocket caps the addresses one socket joins.
	MaxAddrsPerSocket int `json:"max_addrs_per_socket"`
	// MaxDialsPerSocket and MaxDials cap relayed dials open at once, those
	// a socket takes part in and node wide.
	MaxDialsPerSocket int `json:"max_dials_per_socket"`
	MaxDials          int `json:"max_dials"`
	// MaxFrameBytes caps one WebSocket message read from a socket.
	MaxFrameBytes int `json:"max_frame_bytes"`
	// DialBufferBytes caps what one direction of a dial holds until its
	// receiver accepts it; over it the dial is ended.
	DialBufferBytes int `json:"dial_buffer_bytes"`
	// SocketQueueBytes caps what waits to be written to one socket; a
	// receiver over it is closed rather than buffered for.
	SocketQueueBytes int `json:"socket_queue_bytes"`
	// DialIdleTimeout ends a dial that carried nothing for that long.
	DialIdleTimeout setting.Duration `json:"dial_idle_timeout"`
	// JoinTimeout closes a socket that joined no address for that long.
	JoinTimeout setting.Duration `json:"join_timeout"`
	// WriteTimeout closes a socket a write to which takes longer.
	WriteTimeout setting.Duration `json:"write_timeout"`
	// PingInterval and PingTimeout are told to clients in the engine.io
	// handshake; a socket silent for both is closed.
	PingInterval setting.Duration `json:"ping_interval"`
	PingTimeout  setting.Duration `json:"ping_timeout"`
}

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	return Limits{
		CryptoChallenge:   true,
		StrictMultiaddr:   true,
		MaxSockets:        DefaultMaxSockets,
		MaxSocketsPerIP:   DefaultMaxSocketsPerIP,
		MaxAddrsPerSocket: DefaultMaxAddrsPerSocket,
		MaxDialsPerSocket: DefaultMaxDialsPerSocket,
		MaxDials:          DefaultMaxDials,
		MaxFrameBytes:     DefaultMaxFrameBytes,
		DialBufferBytes:   DefaultDialBufferBytes,
		SocketQueueBytes:  DefaultSocketQueueBytes,
		DialIdleTimeout:   setting.Duration(DefaultDialIdleTimeout),
		JoinTimeout:       setting.Duration(DefaultJoinTimeout),
		WriteTimeout:      setting.Duration(DefaultWriteTimeout),
		PingInterval:      setting.Duration(DefaultPingInterval),
		PingTimeout:       setting.Duration(DefaultPingTimeout),
	}
}

// Validate reports every field out of range, by its JSON name.
func (l Limits) Validate() error {
	var ps setting.Problems
	ps.IntRange("max_sockets", l.MaxSockets, 1, 1_000_000)
	ps.IntRange("max_sockets_per_ip", l.MaxSocketsPerIP, 1, 1_000_000)
	ps.IntRange("max_addrs_per_socket", l.MaxAddrsPerSocket, 1, 64)
	ps.IntRange("max_dials_per_socket", l.MaxDialsPerSocket, 1, 10_000)
	ps.IntRange("max_dials", l.MaxDials, 1, 1_000_000)
	ps.IntRange("max_frame_bytes", l.MaxFrameBytes, 4<<10, MaxFrameBytes)
	ps.IntRange("dial_buffer_bytes", l.DialBufferBytes, 4<<10, 64<<20)
	ps.IntRange("socket_queue_bytes", l.SocketQueueBytes, 64<<10, 256<<20)
	if l.SocketQueueBytes >= 64<<10 && l.MaxFrameBytes >= 4<<10 && l.SocketQueueBytes < 2*l.MaxFrameBytes {
		ps.Add("socket_queue_bytes", strconv.Itoa(l.SocketQueueBytes), "less than twice max_frame_bytes ("+strconv.Itoa(l.MaxFrameBytes)+")")
	}
	ps.DurRange("dial_idle_timeout", l.DialIdleTimeout, time.Second, 24*time.Hour, "")
	ps.DurRange("join_timeout", l.JoinTimeout, time.Second, time.Hour, "")
	ps.DurRange("write_timeout", l.WriteTimeout, 100*time.Millisecond, 5*time.Minute, "")
	ps.DurRange("ping_interval", l.PingInterval, time.Second, 10*time.Minute, "")
	ps.DurRange("ping_timeout", l.PingTimeout, time.Second, 10*time.Minute, "")
	return ps.Err()
}
