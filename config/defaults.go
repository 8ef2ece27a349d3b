package config

import (
	"time"

	forge "github.com/ipshipyard/p2p-forge/client"

	"github.com/ws-star/rendezvous/cluster"
	"github.com/ws-star/rendezvous/protocols/legacy"
	"github.com/ws-star/rendezvous/protocols/pubsub"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

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
		Announce: []string{},
		// Off until the operator knows the node is reachable from the
		// internet; the endpoints are the public libp2p.direct forge and
		// Let's Encrypt's production CA.
		AutoTLS: AutoTLS{
			RegistrationEndpoint: forge.DefaultForgeEndpoint,
			ForgeDomain:          forge.DefaultForgeDomain,
			CADirectory:          forge.DefaultCAEndpoint,
		},
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
		Registry:   defaultRegistry(),
		Rendezvous: Rendezvous{Enabled: true, Limits: rendezvous.DefaultLimits()},
		Namespaces: Namespaces{
			AllowPrefixes: []string{},
			// Above what one node can hold (capacity.peers tops out near
			// 20,000 on a small box), far below the registry's total.
			MaxMembers: 50_000,
			Overrides:  []NamespaceOverride{},
		},
		WSStar: defaultWSStar(),
		Pubsub: Pubsub{
			Enabled:         true,
			DiscoveryTopics: []string{pubsub.DiscoveryTopic},
			Topics:          []string{},
			Limits:          pubsub.DefaultLimits(),
		},
		Legacy: Legacy{
			Enabled:   true,
			Namespace: legacy.DefaultNamespace,
			Limits:    legacy.DefaultLimits(),
		},
		Cluster: Cluster{
			Embedded: Embedded{Routes: []string{}, Name: "rendezvous", SyncInterval: Duration(cluster.DefaultSyncInterval)},
			Limits:   cluster.DefaultLimits(),
		},
		Deny:            Deny{Peers: []string{}, Subnets: []string{}},
		HTTP:            HTTP{Enabled: true, Demo: true},
		Metrics:         Metrics{Enabled: true},
		Log:             Log{Level: "info", Format: "text"},
		ShutdownTimeout: Duration(10 * time.Second),
	}
}

// defaultRegistry is registry.DefaultLimits with the caps that grow with the
// node left at 0: derived from capacity.peers.
func defaultRegistry() Registry {
	l := registry.DefaultLimits()
	l.MaxRegistrations, l.MaxNamespaces = 0, 0
	return Registry{Limits: l}
}

// defaultWSStar is wsstar.DefaultLimits with max_views left at 0: derived
// from capacity.peers.
func defaultWSStar() WSStar {
	l := wsstar.DefaultLimits()
	l.MaxViews = 0
	return WSStar{Enabled: true, Limits: l}
}
