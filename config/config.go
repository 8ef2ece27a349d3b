// Package config holds the node's configuration: one JSON document decoded over
// defaults, then overridden by the environment and by command-line flags.
//
// The sections of the packages that run the node embed those packages'
// Limits (wsstar.Limits, rendezvous.Limits, registry.Limits,
// cluster.Limits): their fields, JSON keys, defaults and bounds are written
// there once, and Validate reports their problems under the section's name.
package config

import (
	"slices"

	"github.com/ws-star/rendezvous/cluster"
	"github.com/ws-star/rendezvous/protocols/legacy"
	"github.com/ws-star/rendezvous/protocols/pubsub"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

// Config is the whole configuration of a node. JSON keys are snake_case; every
// field is documented in docs/config.md.
type Config struct {
	// Identity is where the node's private key lives.
	Identity Identity `json:"identity"`
	// Listen is the list of multiaddrs the node listens on.
	Listen []string `json:"listen"`
	// Announce, when not empty, replaces the advertised addresses.
	Announce []string `json:"announce"`
	// NoAnnounce removes matching addresses (or subnets, as /ip4/10.0.0.0/ipcidr/8)
	// from what is advertised.
	NoAnnounce []string `json:"no_announce"`
	// AnnouncePrivate advertises private and loopback addresses too.
	AnnouncePrivate bool `json:"announce_private"`
	// TLS is the certificate for /wss, /tls/ws and /tls/sni/<name>/ws listeners.
	TLS TLS `json:"tls"`
	// AutoTLS is the *.libp2p.direct certificate obtained and renewed by the
	// node itself.
	AutoTLS AutoTLS `json:"autotls"`
	// ProxyProtocol names the proxies whose connections carry a PROXY
	// protocol header with the client's address.
	ProxyProtocol ProxyProtocol `json:"proxy_protocol"`

	// Capacity sizes every limit left at 0 below; see Sized.
	Capacity    Capacity    `json:"capacity"`
	Relay       Relay       `json:"relay"`
	Resources   Resources   `json:"resources"`
	ConnManager ConnManager `json:"conn_manager"`
	Registry    Registry    `json:"registry"`
	Rendezvous  Rendezvous  `json:"rendezvous"`
	WSStar      WSStar      `json:"wsstar"`
	Pubsub      Pubsub      `json:"pubsub"`
	Legacy      Legacy      `json:"legacy"`
	Namespaces  Namespaces  `json:"namespaces"`
	Cluster     Cluster     `json:"cluster"`
	Deny        Deny        `json:"deny"`

	HTTP    HTTP    `json:"http"`
	Metrics Metrics `json:"metrics"`
	Pprof   Pprof   `json:"pprof"`
	Admin   Admin   `json:"admin"`
	Log     Log     `json:"log"`

	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout Duration `json:"shutdown_timeout"`
}

// Identity configures the node's key file.
type Identity struct {
	// KeyFile is the path of the Ed25519 private key (libp2p protobuf encoding).
	KeyFile string `json:"key_file"`
	// RequireExisting makes a missing key file a fatal error instead of creating one.
	RequireExisting bool `json:"require_existing"`
}

// TLS names PEM files; both or neither must be set.
type TLS struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// ProxyProtocol configures PROXY protocol (v1 and v2) on the WebSocket
// listeners.
type ProxyProtocol struct {
	// From lists the subnets of the proxies in front of the node: every
	// connection from them must start with a PROXY header, and no other
	// connection may. Empty: off.
	From []string `json:"from"`
}

// Relay configures the circuit relay v2 service.
type Relay struct {
	Enabled bool `json:"enabled"`
	// LimitDuration and LimitData cap each relayed connection; zero means unlimited.
	LimitDuration Duration `json:"limit_duration"`
	LimitData     int64    `json:"limit_data"`

	ReservationTTL  Duration `json:"reservation_ttl"`
	MaxReservations int      `json:"max_reservations"`
	// MaxCircuits is the number of open relayed connections per peer.
	MaxCircuits int `json:"max_circuits"`
	// MaxActiveCircuits is the number of relayed connections the node carries in
	// total; it sizes the resource manager scopes of the relay.
	MaxActiveCircuits int `json:"max_active_circuits"`
	BufferSize        int `json:"buffer_size"`
	// MaxReservationsPerIP and MaxReservationsPerASN: zero means no cap.
	MaxReservationsPerIP  int `json:"max_reservations_per_ip"`
	MaxReservationsPerASN int `json:"max_reservations_per_asn"`

	// ACL, when either list is non-empty, allows reservations only from the
	// listed peers or from addresses inside the listed subnets.
	ACL RelayACL `json:"acl"`
}

// RelayACL lists who may reserve a relay slot.
type RelayACL struct {
	AllowPeers   []string `json:"allow_peers"`
	AllowSubnets []string `json:"allow_subnets"`
}

// Resources sizes go-libp2p's resource manager.
type Resources struct {
	// MaxConnections is the number of connections the node accepts in total
	// (inbound and outbound).
	MaxConnections int `json:"max_connections"`
	// MaxStreams is the number of streams across all connections.
	MaxStreams int `json:"max_streams"`
	// MaxMemoryMB is the memory the resource manager may hand out, in MiB.
	MaxMemoryMB int `json:"max_memory_mb"`
	// MaxFileDescriptors bounds the sockets the node may hold.
	MaxFileDescriptors int `json:"max_file_descriptors"`
	// MaxWebRTCDirectConnections caps connections over WebRTC-direct, which
	// cost the node about five times a WebSocket connection's memory.
	MaxWebRTCDirectConnections int `json:"max_webrtc_direct_connections"`
	// ConnsPerIP caps concurrent connections from one IPv4 address (/32) or
	// IPv6 /56; loopback is exempt.
	ConnsPerIP int `json:"conns_per_ip"`
	// ConnRatePerIP and ConnBurstPerIP limit new connections per IP (token bucket).
	ConnRatePerIP  float64 `json:"conn_rate_per_ip"`
	ConnBurstPerIP int     `json:"conn_burst_per_ip"`
	// TrustedSubnets are exempt from the per-IP caps and rate limits (a TLS
	// proxy in front of the node, for example). Loopback by default.
	TrustedSubnets []string `json:"trusted_subnets"`
	// HandshakeTimeout bounds every phase of a connection before it belongs
	// to a peer (HTTP headers, the WebSocket upgrade, an idle HTTP keep-alive):
	// until then it holds a slot of the resource manager's transient scope.
	HandshakeTimeout Duration `json:"handshake_timeout"`
}

// ConnManager configures connection trimming.
type ConnManager struct {
	LowWater    int      `json:"low_water"`
	HighWater   int      `json:"high_water"`
	GracePeriod Duration `json:"grace_period"`
	// KeepAliveInterval is how often the node pings each connection (yamux
	// keep-alive and round-trip measurement).
	KeepAliveInterval Duration `json:"keepalive_interval"`
}

// Registry caps the namespace registry shared by both discovery protocols.
// Its settings, bounds and defaults are registry.Limits.
type Registry struct {
	registry.Limits
}

// Rendezvous configures /rendezvous/1.0.0. Its settings, bounds and defaults
// are rendezvous.Limits.
type Rendezvous struct {
	Enabled bool `json:"enabled"`
	rendezvous.Limits
}

// WSStar configures the live /ws-star/1.0.0 protocol. Its settings, bounds
// and defaults are wsstar.Limits.
type WSStar struct {
	Enabled bool `json:"enabled"`
	wsstar.Limits
}

// Pubsub configures gossipsub on the node: pubsub-peer-discovery's topics,
// bridged into the registry (topic T is namespace T), and other topics it
// relays. Its limits, bounds and defaults are pubsub.Limits'.
type Pubsub struct {
	Enabled bool `json:"enabled"`
	// DiscoveryTopics are the pubsub-peer-discovery topics served; an
	// empty list turns discovery over pubsub off.
	DiscoveryTopics []string `json:"discovery_topics"`
	// Topics are relayed as a plain gossipsub router; no other topic is.
	Topics []string `json:"topics"`
	pubsub.Limits
}

// DiscoveryTopicsServed are the discovery topics the node serves under the
// namespace policy: all of them, except that the default topic is left out
// (not refused) when namespaces.allow_prefixes does not allow it, so a
// config written before pubsub existed still loads. A topic listed on
// purpose must be allowed.
func (p Pubsub) DiscoveryTopicsServed(ns Namespaces) []string {
	if slices.Equal(p.DiscoveryTopics, []string{pubsub.DiscoveryTopic}) && !ns.Policy().Allowed(pubsub.DiscoveryTopic) {
		return []string{}
	}
	return p.DiscoveryTopics
}

// Legacy serves the old ws-star clients (libp2p-websocket-star 0.10,
// socket.io) at /socket.io/ on the node's port; their peers are members of
// Namespace. Its limits, bounds and defaults are legacy.Limits'.
type Legacy struct {
	Enabled   bool   `json:"enabled"`
	Namespace string `json:"namespace"`
	legacy.Limits
}

// Served reports whether the node serves the old clients under the
// namespace policy: when enabled, except that the default namespace is
// left out (not refused) when namespaces.allow_prefixes does not allow it,
// so a config written before the legacy section existed still loads. A
// namespace set on purpose must be allowed (Validate).
func (l Legacy) Served(ns Namespaces) bool {
	return l.Enabled && ns.Policy().Check(l.Namespace) == nil
}

// Namespaces is the namespace policy of both discovery protocols.
type Namespaces struct {
	// AllowPrefixes, when not empty, are the only namespace prefixes the node
	// serves.
	AllowPrefixes []string `json:"allow_prefixes"`
	// MaxMembers caps the members of one namespace; 0: no cap of its own.
	MaxMembers int `json:"max_members"`
	// Overrides set the member cap and the largest live view of the
	// namespaces starting with their prefix (longest prefix wins).
	Overrides []NamespaceOverride `json:"overrides"`
}

// NamespaceOverride is the policy of the namespaces starting with Prefix; a
// zero field keeps the general value.
type NamespaceOverride struct {
	Prefix      string `json:"prefix"`
	MaxMembers  int    `json:"max_members"`
	MaxViewSize int    `json:"max_view_size"`
}

// Cluster makes several nodes share one namespace space on NATS JetStream.
// Off (the in-memory registry) unless NATSURL or Embedded.Listen is set.
type Cluster struct {
	// NATSURL lists the servers of an existing NATS cluster with JetStream
	// (comma-separated nats:// or tls:// URLs); it selects external mode.
	NATSURL string `json:"nats_url"`
	// NATSCreds is a NATS .creds file (JWT + nkey) for external mode.
	NATSCreds string `json:"nats_creds"`
	// NATSTLSCA is a PEM file of CAs that verify the NATS servers' certificates.
	NATSTLSCA string `json:"nats_tls_ca"`
	// Embedded runs a NATS server with JetStream inside the node.
	Embedded Embedded `json:"embedded"`
	// Limits are the bucket, its replicas and the lease TTL (see
	// cluster.Limits).
	cluster.Limits
}

// Embedded configures the NATS server run inside the node.
type Embedded struct {
	// Listen is host:port for the cluster (route) connections of the other
	// nodes; setting it selects embedded mode.
	Listen string `json:"listen"`
	// Routes are the host:port cluster addresses of the other nodes.
	Routes []string `json:"routes"`
	// StoreDir holds JetStream's files; empty means "cluster" beside the identity key file.
	StoreDir string `json:"store_dir"`
	// ClientListen, when set (host:port), also serves NATS clients; empty serves none.
	ClientListen string `json:"client_listen"`
	// Name is the NATS cluster name; every node of one cluster must use the same.
	Name string `json:"name"`
	// SyncInterval is how often JetStream fsyncs its files.
	SyncInterval Duration `json:"sync_interval"`
	// SyncAlways fsyncs every write before JetStream acknowledges it.
	SyncAlways bool `json:"sync_always"`
}

// HTTP configures the HTTP endpoints served on the WebSocket port.
type HTTP struct {
	// Enabled serves /, /healthz (and /metrics, see Metrics) on the node's port.
	Enabled bool `json:"enabled"`
	// Demo serves the browser demo (examples/browser, embedded in the
	// binary) at /demo/, with the node's own address filled in.
	Demo bool `json:"demo"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool `json:"enabled"`
	// Addr, when set (host:port), serves /metrics on a separate listener instead
	// of the node's port.
	Addr string `json:"addr"`
}

// Pprof configures the profiling listener; off when Addr is empty.
type Pprof struct {
	Addr string `json:"addr"`
}

// Log configures logging.
type Log struct {
	Level  string `json:"level"`
	Format string `json:"format"`
}
