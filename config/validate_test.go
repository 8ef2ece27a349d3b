package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

const validPeerID = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

// TestValidateReportsEachInvalidFieldWithItsPath changes one field at a time
// from a valid configuration and expects exactly one problem, at that path.
func TestValidateReportsEachInvalidFieldWithItsPath(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		path   string
		value  string
		reason string // substring
	}{
		{"empty key file", func(c *Config) { c.Identity.KeyFile = "" }, "identity.key_file", `""`, "must not be empty"},

		{"no listen address", func(c *Config) { c.Listen = nil }, "listen", "[]", "at least one"},
		{"listen not a multiaddr", func(c *Config) { c.Listen = []string{"0.0.0.0:9090"} }, "listen[0]", `"0.0.0.0:9090"`, "not a multiaddr"},
		{"listen on plain tcp", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/4001"} }, "listen[0]", `"/ip4/0.0.0.0/tcp/4001"`, "must end in /ws"},
		{"listen on a dns name", func(c *Config) { c.Listen = []string{"/dns4/example.com/tcp/443/ws"} }, "listen[0]", `"/dns4/example.com/tcp/443/ws"`, "must start with /ip4"},
		{"listen with trailing p2p", func(c *Config) {
			c.Listen = []string{"/ip4/0.0.0.0/tcp/1/ws/p2p/" + validPeerID}
		}, "listen[0]", "", "must end in /ws"},
		{"second listen address bad", func(c *Config) { c.Listen = []string{c.Listen[0], "/ip6/::/sctp/1/ws"} }, "listen[1]", `"/ip6/::/sctp/1/ws"`, "must start with"},
		{"plain quic listener", func(c *Config) { c.Listen = []string{"/ip6/::/udp/1/quic-v1"} }, "listen[0]", `"/ip6/::/udp/1/quic-v1"`, "must end in /webrtc-direct or /quic-v1/webtransport"},
		{"webtransport with a certhash", func(c *Config) {
			c.Listen = []string{"/ip4/0.0.0.0/udp/1/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g"}
		}, "listen[0]", "", "must end in /webrtc-direct or /quic-v1/webtransport"},
		{"webrtc-direct over tcp", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/1/webrtc-direct"} }, "listen[0]", "", "must end in /ws"},
		{"wss without tls", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/443/wss"} }, "listen[0]", `"/ip4/0.0.0.0/tcp/443/wss"`, "needs tls.cert_file and tls.key_file"},
		{"tls/ws without tls", func(c *Config) { c.Listen = []string{"/ip6/::/tcp/443/tls/ws"} }, "listen[0]", "", "needs tls.cert_file"},
		{"tls/sni/ws without tls", func(c *Config) {
			c.Listen = []string{"/ip4/0.0.0.0/tcp/443/tls/sni/rdv.example.com/ws"}
		}, "listen[0]", "", "needs tls.cert_file"},
		{"tls cert without key", func(c *Config) { c.TLS.CertFile = "cert.pem" }, "tls.key_file", `""`, "required when tls.cert_file is set"},
		{"tls key without cert", func(c *Config) { c.TLS.KeyFile = "key.pem" }, "tls.cert_file", `""`, "required when tls.key_file is set"},
		{"announce not a multiaddr", func(c *Config) { c.Announce = []string{"rdv.example.com:443"} }, "announce[0]", `"rdv.example.com:443"`, "not a multiaddr"},
		{"announce with peer id", func(c *Config) {
			c.Announce = []string{"/dns4/rdv.example.com/tcp/443/wss/p2p/" + validPeerID}
		}, "announce[0]", "", "must not contain /p2p/"},
		{"no_announce not a multiaddr", func(c *Config) { c.NoAnnounce = []string{"/ip4/10.0.0.0/8"} }, "no_announce[0]", `"/ip4/10.0.0.0/8"`, "not a multiaddr"},

		{"relay negative limit_duration", func(c *Config) { c.Relay.LimitDuration = Duration(-time.Second) }, "relay.limit_duration", `"-1s"`, "at least 0s"},
		{"relay huge limit_duration", func(c *Config) { c.Relay.LimitDuration = Duration(48 * time.Hour) }, "relay.limit_duration", `"48h"`, "at most 24h"},
		{"relay negative limit_data", func(c *Config) { c.Relay.LimitData = -1 }, "relay.limit_data", "-1", "at least 0"},
		{"relay short reservation_ttl", func(c *Config) { c.Relay.ReservationTTL = Duration(time.Second) }, "relay.reservation_ttl", `"1s"`, "at least 1m"},
		{"relay long reservation_ttl", func(c *Config) { c.Relay.ReservationTTL = Duration(25 * time.Hour) }, "relay.reservation_ttl", `"25h"`, "at most 24h"},
		{"capacity peers too few", func(c *Config) { c.Capacity.Peers = 3 }, "capacity.peers", "3", "0 (derived from the machine) or from 16"},
		{"capacity peers negative", func(c *Config) { c.Capacity.Peers = -1 }, "capacity.peers", "-1", "from 16 to 10000000"},
		{"relay max_reservations negative", func(c *Config) { c.Relay.MaxReservations = -1 }, "relay.max_reservations", "-1", "0 (derived from capacity.peers) or at least 1"},
		{"relay max_active_circuits negative", func(c *Config) { c.Relay.MaxActiveCircuits = -2 }, "relay.max_active_circuits", "-2", "at least 1"},
		{"relay max_circuits zero", func(c *Config) { c.Relay.MaxCircuits = 0 }, "relay.max_circuits", "0", "at least 1"},
		{"relay tiny buffer_size", func(c *Config) { c.Relay.BufferSize = 100 }, "relay.buffer_size", "100", "at least 512"},
		{"relay huge buffer_size", func(c *Config) { c.Relay.BufferSize = 4 << 20 }, "relay.buffer_size", "4194304", "at most 1048576"},
		{"relay negative per ip", func(c *Config) { c.Relay.MaxReservationsPerIP = -1 }, "relay.max_reservations_per_ip", "-1", "0 means no cap"},
		{"relay negative per asn", func(c *Config) { c.Relay.MaxReservationsPerASN = -1 }, "relay.max_reservations_per_asn", "-1", "0 means no cap"},
		{"relay acl bad peer", func(c *Config) { c.Relay.ACL.AllowPeers = []string{validPeerID, "QmNotAPeer"} }, "relay.acl.allow_peers[1]", `"QmNotAPeer"`, "not a peer ID"},
		{"relay acl bad subnet", func(c *Config) { c.Relay.ACL.AllowSubnets = []string{"10.0.0.1"} }, "relay.acl.allow_subnets[0]", `"10.0.0.1"`, "not a CIDR"},
		{"relay acl subnet host bits", func(c *Config) { c.Relay.ACL.AllowSubnets = []string{"10.1.2.3/8"} }, "relay.acl.allow_subnets[0]", `"10.1.2.3/8"`, "did you mean 10.0.0.0/8"},

		{"resources max_connections not above high water", func(c *Config) { c.Resources.MaxConnections, c.ConnManager.HighWater = 18000, 18000 }, "resources.max_connections", "18000", "greater than conn_manager.high_water (18000)"},
		{"resources max_streams negative", func(c *Config) { c.Resources.MaxStreams = -1 }, "resources.max_streams", "-1", "at least 1"},
		{"resources max_memory_mb negative", func(c *Config) { c.Resources.MaxMemoryMB = -1 }, "resources.max_memory_mb", "-1", "must be 0"},
		{"resources max_memory_mb tiny", func(c *Config) { c.Resources.MaxMemoryMB = 10 }, "resources.max_memory_mb", "10", "from 64"},
		{"resources max_file_descriptors negative", func(c *Config) { c.Resources.MaxFileDescriptors = -5 }, "resources.max_file_descriptors", "-5", "0 (automatic) or positive"},
		{"resources max_file_descriptors below connections", func(c *Config) { c.Resources.MaxFileDescriptors, c.Resources.MaxConnections = 1024, 20000 }, "resources.max_file_descriptors", "1024", "at least resources.max_connections (20000)"},
		{"resources conns_per_ip zero", func(c *Config) { c.Resources.ConnsPerIP = 0 }, "resources.conns_per_ip", "0", "at least 1"},
		{"resources conn_rate zero", func(c *Config) { c.Resources.ConnRatePerIP = 0 }, "resources.conn_rate_per_ip", "0", "greater than 0"},
		{"resources conn_rate NaN", func(c *Config) { c.Resources.ConnRatePerIP = math.NaN() }, "resources.conn_rate_per_ip", "NaN", "greater than 0"},
		{"resources conn_burst zero", func(c *Config) { c.Resources.ConnBurstPerIP = 0 }, "resources.conn_burst_per_ip", "0", "at least 1"},
		{"resources trusted subnet bad", func(c *Config) { c.Resources.TrustedSubnets = []string{"172.16.0.0/12", "proxy"} }, "resources.trusted_subnets[1]", `"proxy"`, "not a CIDR"},
		{"namespace override without prefix", func(c *Config) { c.Namespaces.Overrides = []NamespaceOverride{{MaxMembers: 3}} }, "namespaces.overrides[0].prefix", `""`, "1 to 255 bytes"},
		{"namespace override outside the allowed prefixes", func(c *Config) {
			c.Namespaces.AllowPrefixes = []string{"app/"}
			c.Namespaces.Overrides = []NamespaceOverride{{Prefix: "other/", MaxMembers: 3}}
		}, "namespaces.overrides[0].prefix", `"other/"`, "is allowed by namespaces.allow_prefixes"},
		{"namespace override twice", func(c *Config) {
			c.Namespaces.Overrides = []NamespaceOverride{{Prefix: "a/"}, {Prefix: "a/"}}
		}, "namespaces.overrides[1].prefix", `"a/"`, "earlier override"},
		{"namespace override view too large", func(c *Config) { c.Namespaces.Overrides = []NamespaceOverride{{Prefix: "a/", MaxViewSize: 5000}} }, "namespaces.overrides[0].max_view_size", "5000", "at most 1024"},
		{"namespace members negative", func(c *Config) { c.Namespaces.MaxMembers = -1 }, "namespaces.max_members", "-1", "at least 0"},
		{"rendezvous registrations per ip zero", func(c *Config) { c.Rendezvous.MaxRegistrationsPerIP = 0 }, "rendezvous.max_registrations_per_ip", "0", "at least 1"},
		{"resources handshake timeout too short", func(c *Config) { c.Resources.HandshakeTimeout = Duration(100 * time.Millisecond) }, "resources.handshake_timeout", `"100ms"`, "at least 1s"},
		{"resources handshake timeout too long", func(c *Config) { c.Resources.HandshakeTimeout = Duration(2 * time.Minute) }, "resources.handshake_timeout", `"2m"`, "at most 1m"},

		{"conn_manager low not below high", func(c *Config) { c.ConnManager.LowWater, c.ConnManager.HighWater = 18000, 18000 }, "conn_manager.low_water", "18000", "less than conn_manager.high_water (18000)"},
		{"conn_manager low negative", func(c *Config) { c.ConnManager.LowWater = -1 }, "conn_manager.low_water", "-1", "0 (derived from capacity.peers) or at least 1"},
		{"registry max_registrations negative", func(c *Config) { c.Registry.MaxRegistrations = -1 }, "registry.max_registrations", "-1", "at least 1"},
		{"wsstar max_views negative", func(c *Config) { c.WSStar.MaxViews = -1 }, "wsstar.max_views", "-1", "at least 1"},
		{"conn_manager negative grace", func(c *Config) { c.ConnManager.GracePeriod = Duration(-time.Second) }, "conn_manager.grace_period", `"-1s"`, "at least 0s"},
		{"conn_manager long grace", func(c *Config) { c.ConnManager.GracePeriod = Duration(2 * time.Hour) }, "conn_manager.grace_period", `"2h"`, "at most 1h"},

		{"registry per peer zero", func(c *Config) { c.Registry.MaxRegistrationsPerPeer = 0 }, "registry.max_registrations_per_peer", "0", "at least 1"},
		{"registry per peer above spec", func(c *Config) { c.Registry.MaxRegistrationsPerPeer = 1001 }, "registry.max_registrations_per_peer", "1001", "at most 1000"},
		{"registry addrs zero", func(c *Config) { c.Registry.MaxAddrsPerRecord = 0 }, "registry.max_addrs_per_record", "0", "at least 1"},
		{"registry record size small", func(c *Config) { c.Registry.MaxRecordSize = 100 }, "registry.max_record_size", "100", "at least 256"},
		{"registry record size huge", func(c *Config) { c.Registry.MaxRecordSize = 1 << 20 }, "registry.max_record_size", "1048576", "at most 65536"},

		{"rendezvous min_ttl below 1s", func(c *Config) { c.Rendezvous.MinTTL = Duration(500 * time.Millisecond) }, "rendezvous.min_ttl", `"500ms"`, "at least 1s"},
		{"rendezvous default below min", func(c *Config) { c.Rendezvous.DefaultTTL = Duration(30 * time.Second) }, "rendezvous.default_ttl", `"30s"`, "at least rendezvous.min_ttl (1m)"},
		{"rendezvous max below default", func(c *Config) { c.Rendezvous.MaxTTL = Duration(time.Hour) }, "rendezvous.max_ttl", `"1h"`, "at least rendezvous.default_ttl (2h)"},
		{"rendezvous max above spec", func(c *Config) { c.Rendezvous.MaxTTL = Duration(73 * time.Hour) }, "rendezvous.max_ttl", `"73h"`, "72h"},
		{"rendezvous discover_limit zero", func(c *Config) { c.Rendezvous.DiscoverLimit = 0 }, "rendezvous.discover_limit", "0", "at least 1"},
		{"rendezvous discover_limit above max", func(c *Config) { c.Rendezvous.DiscoverLimit = 2000 }, "rendezvous.discover_limit", "2000", "at most rendezvous.max_discover_limit (1000)"},
		{"rendezvous max_discover_limit too big", func(c *Config) { c.Rendezvous.MaxDiscoverLimit = 10001 }, "rendezvous.max_discover_limit", "10001", "at most 10000"},
		{"rendezvous request_rate negative", func(c *Config) { c.Rendezvous.RequestRate = -1 }, "rendezvous.request_rate", "-1", "greater than 0"},
		{"rendezvous request_rate infinite", func(c *Config) { c.Rendezvous.RequestRate = math.Inf(1) }, "rendezvous.request_rate", "+Inf", "greater than 0"},
		{"rendezvous request_burst zero", func(c *Config) { c.Rendezvous.RequestBurst = 0 }, "rendezvous.request_burst", "0", "at least 1"},
		{"rendezvous presence_grace negative", func(c *Config) { c.Rendezvous.PresenceGrace = Duration(-1) }, "rendezvous.presence_grace", `"-1ns"`, "at least 0s"},

		{"wsstar default_max_peers zero", func(c *Config) { c.WSStar.DefaultMaxPeers = 0 }, "wsstar.default_max_peers", "0", "at least 1"},
		{"wsstar default above max", func(c *Config) { c.WSStar.DefaultMaxPeers = 300 }, "wsstar.default_max_peers", "300", "at most wsstar.max_peers (256)"},
		{"wsstar max_peers above 1024", func(c *Config) { c.WSStar.MaxPeers = 1025 }, "wsstar.max_peers", "1025", "at most 1024"},
		{"wsstar flush too short", func(c *Config) { c.WSStar.FlushInterval = Duration(time.Millisecond) }, "wsstar.flush_interval", `"1ms"`, "at least 10ms"},
		{"wsstar flush too long", func(c *Config) { c.WSStar.FlushInterval = Duration(11 * time.Second) }, "wsstar.flush_interval", `"11s"`, "at most 10s"},
		{"wsstar joins per stream zero", func(c *Config) { c.WSStar.MaxJoinsPerStream = 0 }, "wsstar.max_joins_per_stream", "0", "at least 1"},
		{"wsstar streams per peer zero", func(c *Config) { c.WSStar.MaxStreamsPerPeer = 0 }, "wsstar.max_streams_per_peer", "0", "at least 1"},
		{"wsstar pending events zero", func(c *Config) { c.WSStar.MaxPendingEvents = 0 }, "wsstar.max_pending_events", "0", "at least 1"},
		{"wsstar join_rate zero", func(c *Config) { c.WSStar.JoinRate = 0 }, "wsstar.join_rate", "0", "greater than 0"},
		{"wsstar join_burst zero", func(c *Config) { c.WSStar.JoinBurst = 0 }, "wsstar.join_burst", "0", "at least 1"},
		{"wsstar write_timeout zero", func(c *Config) { c.WSStar.WriteTimeout = 0 }, "wsstar.write_timeout", `"0s"`, "at least 1s"},

		{"cluster both modes", func(c *Config) {
			c.Cluster.NATSURL, c.Cluster.Embedded.Listen = "nats://n1:4222", ":6222"
		}, "cluster.nats_url", `"nats://n1:4222"`, "not both"},
		{"cluster nats_url http", func(c *Config) { c.Cluster.NATSURL = "http://n1:4222" }, "cluster.nats_url", `"http://n1:4222"`, "scheme must be nats://, tls://, ws:// or wss://"},
		{"cluster nats_url without scheme", func(c *Config) { c.Cluster.NATSURL = "n1:4222" }, "cluster.nats_url", `"n1:4222"`, "scheme"},
		{"cluster nats_url without port", func(c *Config) { c.Cluster.NATSURL = "nats://n1" }, "cluster.nats_url", `"nats://n1"`, "port from 1 to 65535"},
		{"cluster nats_url port 0", func(c *Config) { c.Cluster.NATSURL = "tls://n1:0" }, "cluster.nats_url", `"tls://n1:0"`, "port from 1 to 65535"},
		{"cluster nats_url without host", func(c *Config) { c.Cluster.NATSURL = "nats://:4222" }, "cluster.nats_url", `"nats://:4222"`, "must name a host"},
		{"cluster nats_url not a url", func(c *Config) { c.Cluster.NATSURL = "nats://n1:42 22" }, "cluster.nats_url", `"nats://n1:42 22"`, "not a URL"},
		{"cluster second nats_url bad", func(c *Config) { c.Cluster.NATSURL = "nats://n1:4222, wss://n2" }, "cluster.nats_url", `"wss://n2"`, "port"},
		{"cluster nats_url only commas", func(c *Config) { c.Cluster.NATSURL = " , " }, "cluster.nats_url", `" , "`, "lists no URL"},
		{"cluster nats_url password redacted", func(c *Config) { c.Cluster.NATSURL = "nats://alice:s3cret@n1" }, "cluster.nats_url", `"nats://***@n1"`, "port"},
		{"cluster creds without nats_url", func(c *Config) { c.Cluster.NATSCreds = "node.creds" }, "cluster.nats_creds", `"node.creds"`, "needs cluster.nats_url"},
		{"cluster tls ca without nats_url", func(c *Config) { c.Cluster.NATSTLSCA = "ca.pem" }, "cluster.nats_tls_ca", `"ca.pem"`, "needs cluster.nats_url"},
		{"cluster creds missing", func(c *Config) {
			c.Cluster.NATSURL, c.Cluster.NATSCreds = "nats://n1:4222", "testdata/no-such.creds"
		}, "cluster.nats_creds", `"testdata/no-such.creds"`, "file not found"},
		{"cluster tls ca is a directory", func(c *Config) {
			c.Cluster.NATSURL, c.Cluster.NATSTLSCA = "tls://n1:4222", "testdata"
		}, "cluster.nats_tls_ca", `"testdata"`, "is a directory"},
		{"cluster listen without port", func(c *Config) { c.Cluster.Embedded.Listen = "0.0.0.0" }, "cluster.embedded.listen", `"0.0.0.0"`, "host:port"},
		{"cluster listen port 0", func(c *Config) { c.Cluster.Embedded.Listen = ":0" }, "cluster.embedded.listen", `":0"`, "not 0: the other nodes must know it"},
		{"cluster listen port too big", func(c *Config) { c.Cluster.Embedded.Listen = ":65536" }, "cluster.embedded.listen", `":65536"`, "1 to 65535"},
		{"cluster route without port", func(c *Config) {
			embedded(c, "10.0.0.2:6222", "10.0.0.3")
		}, "cluster.embedded.routes[1]", `"10.0.0.3"`, "host:port"},
		{"cluster route port 0", func(c *Config) { embedded(c, "10.0.0.2:0") }, "cluster.embedded.routes[0]", `"10.0.0.2:0"`, "1 to 65535"},
		{"cluster route without host", func(c *Config) { embedded(c, ":6222") }, "cluster.embedded.routes[0]", `":6222"`, "must name a host"},
		{"cluster route is this node", func(c *Config) {
			embedded(c, "10.0.0.2:6222", "10.0.0.1:6222")
		}, "cluster.embedded.routes[1]", `"10.0.0.1:6222"`, "must not be cluster.embedded.listen"},
		{"cluster route twice", func(c *Config) {
			embedded(c, "10.0.0.2:6222", "10.0.0.3:6222", "10.0.0.2:6222")
		}, "cluster.embedded.routes[2]", `"10.0.0.2:6222"`, "listed twice"},
		{"cluster routes without listen", func(c *Config) { c.Cluster.Embedded.Routes = []string{"10.0.0.2:6222", "x"} }, "cluster.embedded.routes", `["10.0.0.2:6222","x"]`, "needs cluster.embedded.listen"},
		{"cluster store_dir without listen", func(c *Config) { c.Cluster.Embedded.StoreDir = "/data/nats" }, "cluster.embedded.store_dir", `"/data/nats"`, "needs cluster.embedded.listen"},
		{"cluster client_listen without listen", func(c *Config) { c.Cluster.Embedded.ClientListen = ":4222" }, "cluster.embedded.client_listen", `":4222"`, "needs cluster.embedded.listen"},
		{"cluster client_listen bad", func(c *Config) {
			embedded(c)
			c.Cluster.Embedded.ClientListen = "4222"
		}, "cluster.embedded.client_listen", `"4222"`, "host:port"},
		{"cluster client_listen same as listen", func(c *Config) {
			embedded(c)
			c.Cluster.Embedded.ClientListen = "10.0.0.1:6222"
		}, "cluster.embedded.client_listen", `"10.0.0.1:6222"`, "must differ from cluster.embedded.listen"},
		{"cluster name without listen", func(c *Config) { c.Cluster.Embedded.Name = "eu" }, "cluster.embedded.name", `"eu"`, "needs cluster.embedded.listen"},
		{"cluster sync_interval without listen", func(c *Config) { c.Cluster.Embedded.SyncInterval = Duration(time.Second) }, "cluster.embedded.sync_interval", `"1s"`, "needs cluster.embedded.listen"},
		{"cluster sync_interval too short", func(c *Config) { embedded(c); c.Cluster.Embedded.SyncInterval = Duration(500 * time.Millisecond) }, "cluster.embedded.sync_interval", `"500ms"`, "from 1s to 10m"},
		{"cluster sync_interval too long", func(c *Config) { embedded(c); c.Cluster.Embedded.SyncInterval = Duration(time.Hour) }, "cluster.embedded.sync_interval", `"1h"`, "from 1s to 10m"},
		{"cluster sync_always without listen", func(c *Config) { c.Cluster.Embedded.SyncAlways = true }, "cluster.embedded.sync_always", "true", "needs cluster.embedded.listen"},
		{"cluster name empty", func(c *Config) { embedded(c); c.Cluster.Embedded.Name = "" }, "cluster.embedded.name", `""`, "must not be empty"},
		{"cluster name with a space", func(c *Config) { embedded(c); c.Cluster.Embedded.Name = "eu west" }, "cluster.embedded.name", `"eu west"`, "only letters, digits, - and _"},
		{"cluster name too long", func(c *Config) { embedded(c); c.Cluster.Embedded.Name = strings.Repeat("n", 65) }, "cluster.embedded.name", "", "at most 64 characters"},
		{"cluster bucket empty", func(c *Config) { c.Cluster.Bucket = "" }, "cluster.bucket", `""`, "must not be empty"},
		{"cluster bucket with a dot", func(c *Config) { c.Cluster.Bucket = "rdv.registry" }, "cluster.bucket", `"rdv.registry"`, "only letters, digits, - and _"},
		{"cluster bucket too long", func(c *Config) { c.Cluster.Bucket = strings.Repeat("b", 65) }, "cluster.bucket", "", "at most 64 characters"},
		{"cluster replicas negative", func(c *Config) { c.Cluster.Replicas = -1 }, "cluster.replicas", "-1", "from 0 to 5 (0 picks 3"},
		{"cluster replicas above 5", func(c *Config) { c.Cluster.Replicas = 6 }, "cluster.replicas", "6", "from 0 to 5"},
		{"cluster replicas above servers", func(c *Config) {
			embedded(c, "10.0.0.2:6222")
			c.Cluster.Replicas = 3
		}, "cluster.replicas", "3", "more replicas than servers (2)"},
		{"cluster lease_ttl short", func(c *Config) { c.Cluster.LeaseTTL = Duration(time.Second) }, "cluster.lease_ttl", `"1s"`, "at least 2s"},
		{"cluster lease_ttl long", func(c *Config) { c.Cluster.LeaseTTL = Duration(2 * time.Minute) }, "cluster.lease_ttl", `"2m"`, "at most 1m"},
		{"cluster lease_ttl fraction", func(c *Config) { c.Cluster.LeaseTTL = Duration(2500 * time.Millisecond) }, "cluster.lease_ttl", `"2.5s"`, "whole seconds"},

		{"metrics with nowhere to serve", func(c *Config) { c.HTTP.Enabled = false }, "metrics.enabled", "true", "http.enabled"},
		{"metrics addr without port", func(c *Config) { c.Metrics.Addr = "0.0.0.0" }, "metrics.addr", `"0.0.0.0"`, "host:port"},
		{"metrics addr bad port", func(c *Config) { c.Metrics.Addr = ":70000" }, "metrics.addr", `":70000"`, "0 to 65535"},
		{"pprof on all interfaces", func(c *Config) { c.Pprof.Addr = ":6060" }, "pprof.addr", `":6060"`, "loopback"},
		{"pprof on public ip", func(c *Config) { c.Pprof.Addr = "192.0.2.1:6060" }, "pprof.addr", `"192.0.2.1:6060"`, "loopback"},
		{"pprof on dns name", func(c *Config) { c.Pprof.Addr = "example.com:6060" }, "pprof.addr", "", "loopback"},
		{"pprof same as metrics", func(c *Config) { c.Pprof.Addr, c.Metrics.Addr = "127.0.0.1:6060", "127.0.0.1:6060" }, "pprof.addr", `"127.0.0.1:6060"`, "must differ from metrics.addr"},

		{"log level unknown", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `"verbose"`, "debug, info, warn or error"},
		{"log format unknown", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"xml"`, "text or json"},

		{"shutdown zero", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout", `"0s"`, "greater than 0s"},
		{"shutdown too long", func(c *Config) { c.ShutdownTimeout = Duration(6 * time.Minute) }, "shutdown_timeout", `"6m"`, "at most 5m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			probs := problems(t, c.Validate())
			if len(probs) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(probs), probs)
			}
			p := probs[0]
			if p.Path != tt.path {
				t.Errorf("path = %q, want %q (%s)", p.Path, tt.path, p)
			}
			if tt.value != "" && p.Value != tt.value {
				t.Errorf("value = %s, want %s (%s)", p.Value, tt.value, p)
			}
			if !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", p.Reason, tt.reason)
			}
		})
	}
}

func TestValidateAcceptsBoundaryAndAlternativeValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"tls listeners with cert and key", func(c *Config) {
			c.TLS = TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
			c.Listen = []string{
				"/ip4/0.0.0.0/tcp/443/wss",
				"/ip6/::/tcp/443/tls/ws",
				"/ip4/0.0.0.0/tcp/8443/tls/sni/rdv.example.com/ws",
				"/ip4/127.0.0.1/tcp/9090/ws",
			}
		}},
		{"tls configured but plain listener", func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k"} }},
		{"announce dns wss and cidr no_announce", func(c *Config) {
			c.Announce = []string{"/dns4/rdv.example.com/tcp/443/wss"}
			c.NoAnnounce = []string{"/ip4/10.0.0.0/ipcidr/8", "/ip4/172.17.0.2/tcp/9090/ws"}
		}},
		{"unlimited relay and caps", func(c *Config) {
			c.Relay.LimitDuration, c.Relay.LimitData = 0, 0
			c.Relay.MaxReservationsPerIP, c.Relay.MaxReservationsPerASN = 0, 0
		}},
		{"limited relay", func(c *Config) {
			c.Relay.LimitDuration, c.Relay.LimitData = Duration(2*time.Minute), 128<<10
		}},
		{"acl lists", func(c *Config) {
			c.Relay.ACL = RelayACL{AllowPeers: []string{validPeerID}, AllowSubnets: []string{"10.0.0.0/8", "fd00::/8"}}
		}},
		{"explicit memory and fds", func(c *Config) { c.Resources.MaxMemoryMB, c.Resources.MaxFileDescriptors = 4096, 20000 }},
		{"fractional rate", func(c *Config) { c.Resources.ConnRatePerIP = 0.2 }},
		{"trusted subnets", func(c *Config) { c.Resources.TrustedSubnets = []string{"10.0.0.0/8", "::1/128"} }},
		{"connmgr zero low water", func(c *Config) { c.ConnManager.LowWater = 0 }},
		{"ttls equal at the spec limit", func(c *Config) {
			d := Duration(MaxRendezvousTTL)
			c.Rendezvous.MinTTL, c.Rendezvous.DefaultTTL, c.Rendezvous.MaxTTL = d, d, d
		}},
		{"min ttl 1s", func(c *Config) { c.Rendezvous.MinTTL = Duration(time.Second) }},
		{"discover limits at the cap", func(c *Config) { c.Rendezvous.DiscoverLimit, c.Rendezvous.MaxDiscoverLimit = 10000, 10000 }},
		{"wsstar peers at the cap", func(c *Config) { c.WSStar.DefaultMaxPeers, c.WSStar.MaxPeers = 1024, 1024 }},
		{"flush interval bounds", func(c *Config) { c.WSStar.FlushInterval = Duration(10 * time.Millisecond) }},
		{"metrics on own listener without http", func(c *Config) { c.HTTP.Enabled, c.Metrics.Addr = false, ":9100" }},
		{"metrics and http off", func(c *Config) { c.HTTP.Enabled, c.Metrics.Enabled = false, false }},
		{"pprof on loopback forms", func(c *Config) { c.Pprof.Addr = "localhost:6060" }},
		{"pprof on ipv6 loopback", func(c *Config) { c.Pprof.Addr = "[::1]:0" }},
		{"pprof on 127.0.0.2", func(c *Config) { c.Pprof.Addr = "127.0.0.2:6060" }},
		{"json debug logs", func(c *Config) { c.Log = Log{Level: "debug", Format: "json"} }},
		{"cluster external, every scheme", func(c *Config) {
			c.Cluster.NATSURL = "nats://n1:4222, tls://alice:s3cret@n2.example.com:4443,ws://[::1]:8080,wss://n4:443"
			c.Cluster.Replicas = 5 // the URLs given are only a hint of the cluster's size
		}},
		{"cluster embedded alone", func(c *Config) { c.Cluster.Embedded.Listen = ":6222" }},
		{"cluster embedded with everything", func(c *Config) {
			embedded(c, "10.0.0.2:6222", "rdv3.internal:6222", "[fd00::3]:6222")
			c.Cluster.Embedded.StoreDir = "/var/lib/rendezvous/nats"
			c.Cluster.Embedded.ClientListen = "127.0.0.1:0"
			c.Cluster.Embedded.Name = "eu-west_1"
			c.Cluster.Bucket = strings.Repeat("b", 64)
			c.Cluster.Replicas = 4
		}},
		{"cluster lease_ttl bounds", func(c *Config) { c.Cluster.LeaseTTL = Duration(2 * time.Second) }},
		{"cluster lease_ttl 1m", func(c *Config) { c.Cluster.LeaseTTL = Duration(time.Minute) }},
		{"shutdown 5m", func(c *Config) { c.ShutdownTimeout = Duration(MaxShutdownTimeout) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := Default()
	c.Relay.MaxReservations = -1
	c.Log.Level = "loud"
	c.Listen = []string{"/ip4/0.0.0.0/tcp/9090/ws", "nonsense"}
	c.ConnManager.LowWater, c.ConnManager.HighWater = 20000, 18000 // low above high
	c.Pprof.Addr = "0.0.0.0:6060"

	err := c.Validate()
	want := []string{"listen[1]", "relay.max_reservations", "conn_manager.low_water", "pprof.addr", "log.level"}
	probs := problems(t, err)
	var got []string
	for _, p := range probs {
		got = append(got, p.Path)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paths = %v, want %v", got, want)
	}
	msg := err.Error()
	if !strings.Contains(msg, "(5 problems)") || !strings.Contains(msg, "relay.max_reservations: -1: must be 0 (derived from capacity.peers) or at least 1") {
		t.Errorf("message does not list the problems as path: value: reason:\n%s", msg)
	}
}

func TestValidationErrorMessageForOneProblem(t *testing.T) {
	c := Default()
	c.Relay.MaxReservations = -1
	err := c.Validate()
	if err == nil || err.Error() != "invalid configuration: relay.max_reservations: -1: must be 0 (derived from capacity.peers) or at least 1" {
		t.Fatalf("err = %v", err)
	}
}

// embedded puts c in embedded mode on 10.0.0.1:6222 with the given routes.
func embedded(c *Config, routes ...string) {
	c.Cluster.Embedded.Listen = "10.0.0.1:6222"
	c.Cluster.Embedded.Routes = routes
}

func problems(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	return ve.Problems
}

func TestPubsubTopicsMustBeNamespacesThePolicyAllows(t *testing.T) {
	c := Default()
	c.Namespaces.AllowPrefixes = []string{"app/"}
	// The default topic outside the policy is left out, not refused: a
	// config from before pubsub still loads.
	if err := c.Validate(); err != nil {
		t.Fatalf("default topic outside allow_prefixes: %v", err)
	}
	if got := c.Pubsub.DiscoveryTopicsServed(c.Namespaces); len(got) != 0 {
		t.Errorf("served %v, want none", got)
	}
	c.Pubsub.DiscoveryTopics = []string{"other", "app/x"}
	c.Pubsub.Topics = []string{"chat", "chat"}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`pubsub.discovery_topics[0]: "other"`, `pubsub.topics[1]: "chat"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %s in %v", want, err)
		}
	}
	// With pubsub off, its topics are not checked.
	c.Pubsub.Enabled = false
	if err := c.Validate(); err != nil {
		t.Errorf("pubsub off: %v", err)
	}
}
