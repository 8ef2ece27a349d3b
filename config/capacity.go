package config

// Capacity sizes the node for a number of concurrent peers. Every limit left
// at 0 in the configuration is derived from it (see Sized), so one number
// moves them all together; any of them may still be set explicitly.
type Capacity struct {
	// Peers is how many peers the node serves at once; 0 derives it from the
	// machine (file-descriptor limit and memory).
	Peers int `json:"peers"`
}

// Machine is what the sizing needs to know about the host.
type Machine struct {
	// FDLimit is the process's file-descriptor limit (the hard limit: the
	// node raises its soft limit to it at start).
	FDLimit int
	// Memory is the physical memory in bytes.
	Memory uint64
}

// Sizing constants. They are the per-peer figures measured with browsers and
// go-libp2p peers (docs/benchmarks.md); each is written once, here.
const (
	// FDReserve is the file descriptors kept for everything that is not a
	// peer's socket: listeners, the key and config files, NATS, the HTTP
	// side listeners, and headroom for connections being accepted.
	FDReserve = 500
	// FDOther is the file descriptors the resource manager leaves to
	// everything but connections when it derives resources.max_file_descriptors.
	FDOther = 256
	// YamuxWindow is what yamux accounts with the resource manager for every
	// stream (its initial receive window), though it allocates buffers only
	// as data arrives.
	YamuxWindow = 256 << 10
	// MemoryPerPeer is the real memory budgeted per peer when deriving
	// capacity.peers from the machine: twice the measured RSS per peer.
	MemoryPerPeer = 128 << 10
	// WebRTCDirectMemoryPerPeer is the real memory budgeted per WebRTC-direct
	// connection (a pion PeerConnection: ICE, DTLS, SCTP): twice its measured
	// RSS, as for MemoryPerPeer.
	WebRTCDirectMemoryPerPeer = 840 << 10
	// WebRTCDirectAccounted is what go-libp2p reserves with the resource
	// manager for every WebRTC-direct connection up front: its SCTP receive
	// buffer, ten messages of 257 KiB, though pion fills it only as data
	// arrives.
	WebRTCDirectAccounted = 10 * (256<<10 + 1<<10)
	// MinPeers and MaxPeers bound capacity.peers.
	MinPeers = 16
	MaxPeers = 10_000_000
	// StreamsPerPeer is the streams budgeted per peer: its ws-star stream,
	// gossipsub's two (one each way), a ping, an identify and a rendezvous
	// or reservation stream in flight.
	StreamsPerPeer = 6
	// RegistrationsPerPeer sizes the registry: a peer announces on a few
	// namespaces, and /rendezvous/1.0.0 registrations outlive connections.
	RegistrationsPerPeer = 5
	// ViewsPerPeer sizes wsstar.max_views.
	ViewsPerPeer = 5
)

// SizedFrom says where the capacity came from: "config" or the machine
// resource that bounded it ("file descriptors" or "memory").
func (c Config) SizedFrom(m Machine) (peers int, from string) {
	if c.Capacity.Peers > 0 {
		return c.Capacity.Peers, "config"
	}
	byFD := m.FDLimit - FDReserve
	byMem := int(m.Memory / 2 / MemoryPerPeer)
	if m.Memory == 0 {
		byMem = MaxPeers
	}
	if m.FDLimit <= 0 {
		byFD = MaxPeers
	}
	peers, from = byFD, "file descriptors"
	if byMem < byFD {
		peers, from = byMem, "memory"
	}
	return min(max(peers, MinPeers), MaxPeers), from
}

// Sized returns c with capacity.peers resolved against m and every derived
// limit that is 0 filled from it. It is idempotent: explicit values stay.
func (c Config) Sized(m Machine) Config {
	p, _ := c.SizedFrom(m)
	c.Capacity.Peers = p
	set := func(v *int, derived int) {
		if *v == 0 {
			*v = derived
		}
	}
	if c.Resources.MaxFileDescriptors == 0 && m.FDLimit > 0 {
		c.Resources.MaxFileDescriptors = max(m.FDLimit-FDOther, 1)
	}
	fds := c.Resources.MaxFileDescriptors
	if fds == 0 {
		fds = MaxPeers // unknown limit: nothing to stay under
	}
	// Circuits first: the stream budget counts their two streams each.
	set(&c.Relay.MaxActiveCircuits, max(p/4, 256))
	// Room above capacity for peers that connect without staying (a DISCOVER
	// and go) and for reconnections overlapping their old connection, within
	// the sockets the node may hold.
	set(&c.Resources.MaxConnections, max(min(p+p/10+64, fds), 2))
	// Every connection may hold a reservation: the relay is never the limit
	// that bites first.
	set(&c.Relay.MaxReservations, c.Resources.MaxConnections)
	set(&c.Resources.MaxStreams, StreamsPerPeer*p+2*c.Relay.MaxActiveCircuits)
	// WebRTC-direct peers: as many as connections, as far as half the RAM
	// holds them.
	if c.HasWebRTCDirect() {
		byMem := c.Resources.MaxConnections
		if m.Memory > 0 {
			byMem = int(min(m.Memory/2/WebRTCDirectMemoryPerPeer, MaxPeers))
		}
		set(&c.Resources.MaxWebRTCDirectConnections, max(min(c.Resources.MaxConnections, byMem), 1))
	}
	// Yamux accounts a full window per stream, and WebRTC-direct a whole SCTP
	// buffer per connection, so the memory budget covers every stream and
	// WebRTC-direct connection the caps allow (plus the relay's real
	// buffers): the caps, not accounting, decide. At least a quarter of the
	// RAM.
	if c.Resources.MaxMemoryMB == 0 {
		mem := uint64(c.Resources.MaxStreams)*YamuxWindow + c.RelayMemory() +
			uint64(c.Resources.MaxWebRTCDirectConnections)*WebRTCDirectAccounted
		mem = max(mem, m.Memory/4, 1<<30)
		c.Resources.MaxMemoryMB = int(min(mem>>20, 1<<24))
	}
	// Trim only above capacity, and only down to it: every peer holding a
	// reservation or a live view is protected anyway.
	set(&c.ConnManager.HighWater, max(min(p+p/20+32, c.Resources.MaxConnections-1), 1))
	set(&c.ConnManager.LowWater, max(min(p, c.ConnManager.HighWater-1), 1))
	set(&c.Registry.MaxRegistrations, max(RegistrationsPerPeer*p, 1000))
	set(&c.Registry.MaxNamespaces, max(p/2, 1000))
	set(&c.WSStar.MaxViews, max(ViewsPerPeer*p, 1000))
	return c
}

// RelayMemory is the real memory the relay's circuits may hold: two copy
// buffers per circuit, and room for reservations and handshakes.
func (c Config) RelayMemory() uint64 {
	return uint64(2*c.Relay.MaxActiveCircuits*c.Relay.BufferSize) + 64<<20
}
