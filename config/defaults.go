package config

import "time"

// Default returns the configuration used for every key a file leaves out.
// The limits at 0 are derived from capacity.peers when the node starts
// (Config.Sized), itself derived from the machine unless set.
//
// Empty lists are empty slices rather than nil so that a written default
// file shows them as [] and loads back equal.
func Default() Config {
	return Config{
		Identity: Identity{KeyFile: "identity.key"},
		// WebSockets for every client; WebRTC-direct and WebTransport on
		// the same port number over UDP for browsers reaching the node
		// without a TLS certificate.
		Listen: []string{
			"/ip4/0.0.0.0/tcp/9090/ws",
			"/ip4/0.0.0.0/udp/9090/webrtc-direct",
			"/ip4/0.0.0.0/udp/9090/quic-v1/webtransport",
		},
		Announce:   []string{},
		NoAnnounce: []string{},
		// Off: only a node behind a proxy that sends the header turns it on.
		ProxyProtocol: ProxyProtocol{From: []string{}},
		Relay: Relay{
			Enabled: true,
			// Browsers reach each other only through the relay; a limited
			// circuit would be cut after 2 min / 128 KiB and js-libp2p refuses
			// streams on it unless each protocol opts in.
			LimitDuration:     0,
			LimitData:         0,
			ReservationTTL:    Duration(time.Hour),
			MaxReservations:   0,
			MaxCircuits:       16,
			MaxActiveCircuits: 0,
			BufferSize:        16384,
			// Behind a TLS proxy every browser arrives from the proxy's IP, so
			// any per-IP or per-ASN cap would cap the whole node.
			MaxReservationsPerIP:  0,
			MaxReservationsPerASN: 0,
			ACL:                   RelayACL{AllowPeers: []string{}, AllowSubnets: []string{}},
		},
		Resources: Resources{
			MaxConnections:             0,
			MaxStreams:                 0,
			MaxMemoryMB:                0,
			MaxFileDescriptors:         0,
			MaxWebRTCDirectConnections: 0,
			ConnsPerIP:                 64,
			ConnRatePerIP:              1.0,
			ConnBurstPerIP:             64,
			TrustedSubnets:             []string{"127.0.0.0/8", "::1/128"},
			HandshakeTimeout:           Duration(5 * time.Second),
		},
		ConnManager: ConnManager{
			LowWater:    0,
			HighWater:   0,
			GracePeriod: Duration(time.Minute),
			// Clients ping every 30 s themselves (js-libp2p and go-libp2p
			// defaults); the node's own pings only need to find dead peers.
			KeepAliveInterval: Duration(2 * time.Minute),
		},
		Registry: Registry{
			MaxRegistrationsPerPeer: 32,
			MaxRegistrations:        0,
			MaxNamespaces:           0,
			MaxAddrsPerRecord:       32,
			MaxRecordSize:           4096,
		},
		Rendezvous: Rendezvous{
			Enabled:           true,
			MinTTL:            Duration(time.Minute),
			DefaultTTL:        Duration(2 * time.Hour),
			MaxTTL:            Duration(72 * time.Hour),
			DiscoverLimit:     100,
			MaxDiscoverLimit:  1000,
			RequestRate:       10,
			RequestBurst:      20,
			PresenceBinding:   true,
			PresenceGrace:     Duration(30 * time.Second),
			StreamTimeout:     Duration(30 * time.Second),
			MaxStreamsPerPeer: 8,
			// Eight peers' worth of registry.max_registrations_per_peer.
			MaxRegistrationsPerIP: 256,
		},
		Namespaces: Namespaces{
			AllowPrefixes: []string{},
			// Above what one node can hold (capacity.peers tops out near
			// 20,000 on a small box), far below the registry's total.
			MaxMembers: 50_000,
			Overrides:  []NamespaceOverride{},
		},
		WSStar: WSStar{
			Enabled:           true,
			DefaultMaxPeers:   64,
			MaxPeers:          256,
			FlushInterval:     Duration(100 * time.Millisecond),
			MaxJoinsPerStream: 16,
			MaxStreamsPerPeer: 4,
			MaxViews:          0,
			MaxPendingEvents:  1024,
			JoinRate:          5,
			JoinBurst:         20,
			WriteTimeout:      Duration(10 * time.Second),
		},
		Cluster: Cluster{
			Embedded: Embedded{Routes: []string{}, Name: "rendezvous"},
			Bucket:   "rendezvous",
			// Short, so the peers of a crashed node leave the other nodes'
			// views within seconds rather than at the end of their TTLs.
			LeaseTTL: Duration(3 * time.Second),
		},
		Deny:            Deny{Peers: []string{}, Subnets: []string{}},
		HTTP:            HTTP{Enabled: true, Demo: true},
		Metrics:         Metrics{Enabled: true},
		Log:             Log{Level: "info", Format: "text"},
		ShutdownTimeout: Duration(10 * time.Second),
	}
}
