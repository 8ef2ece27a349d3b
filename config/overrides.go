package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
)

// DefaultPort is the port of the listen address built from a host or port
// override alone, as the legacy server's --port default.
const DefaultPort = 9090

// Overrides are the settings the environment and command-line flags may
// change. A nil field leaves the configuration alone.
type Overrides struct {
	// Host and Port replace the whole listen list with one WebSocket
	// address and the WebRTC-direct and WebTransport addresses on the same
	// host and UDP port number.
	Host *string
	Port *int
	// NoWebRTCDirect and NoWebTransport, when true, drop every listen
	// address of that transport (after Host and Port).
	NoWebRTCDirect *bool
	NoWebTransport *bool
	// AutoTLS is autotls.enabled.
	AutoTLS *bool
	// NoPubsub, when true, sets pubsub.enabled to false.
	NoPubsub *bool
	// NoLegacy, when true, sets legacy.enabled to false.
	NoLegacy *bool
	// DisableCryptoChallenge and DisableStrictMultiaddr, when true, set
	// legacy.crypto_challenge and legacy.strict_multiaddr to false (the
	// old server's flags).
	DisableCryptoChallenge *bool
	DisableStrictMultiaddr *bool
	// KeyFile is identity.key_file.
	KeyFile *string
	// Announce, when not nil, replaces announce.
	Announce []string
	// CertFile and KeyFilePEM are tls.cert_file and tls.key_file.
	CertFile   *string
	KeyFilePEM *string
	// MetricsAddr is metrics.addr.
	MetricsAddr *string
	// DisableMetrics sets metrics.enabled to its negation.
	DisableMetrics *bool
	LogLevel       *string
	LogFormat      *string
	// RequireIdentity is identity.require_existing.
	RequireIdentity *bool
	// NATSURL is cluster.nats_url.
	NATSURL *string
	// ClusterListen, ClusterRoutes (replacing the list when not nil) and
	// ClusterStore are cluster.embedded.listen, routes and store_dir.
	ClusterListen *string
	ClusterRoutes []string
	ClusterStore  *string
	// MaxPeers is capacity.peers.
	MaxPeers *int
	// AdminAddr and AdminTokenFile are admin.addr and admin.token_file.
	AdminAddr      *string
	AdminTokenFile *string
}

// Environment variables read by FromEnv. PORT, HOST and DISABLE_METRICS keep
// the legacy server's names.
const (
	EnvPort           = "PORT"
	EnvHost           = "HOST"
	EnvDisableMetrics = "DISABLE_METRICS"
	EnvIdentity       = "RENDEZVOUS_IDENTITY"
	EnvAnnounce       = "RENDEZVOUS_ANNOUNCE"
	EnvLogLevel       = "RENDEZVOUS_LOG_LEVEL"
	EnvLogFormat      = "RENDEZVOUS_LOG_FORMAT"
	EnvMetricsAddr    = "RENDEZVOUS_METRICS_ADDR"
	EnvNATSURL        = "RENDEZVOUS_NATS_URL"
	EnvClusterListen  = "RENDEZVOUS_CLUSTER_LISTEN"
	EnvClusterRoutes  = "RENDEZVOUS_CLUSTER_ROUTES"
	EnvClusterStore   = "RENDEZVOUS_CLUSTER_STORE"
	EnvMaxPeers       = "RENDEZVOUS_MAX_PEERS"
	EnvNoWebRTCDirect = "RENDEZVOUS_NO_WEBRTC_DIRECT"
	EnvNoWebTransport = "RENDEZVOUS_NO_WEBTRANSPORT"
	EnvAutoTLS        = "RENDEZVOUS_AUTOTLS"
	EnvNoPubsub       = "RENDEZVOUS_NO_PUBSUB"
	EnvNoLegacy       = "RENDEZVOUS_NO_LEGACY"
	// EnvDisableCryptoChallenge and EnvDisableStrictMultiaddr are the old
	// server's variables.
	EnvDisableCryptoChallenge = "DISABLE_CRYPTO_CHALLENGE"
	EnvDisableStrictMultiaddr = "DISABLE_STRICT_MULTIADDR"
	// EnvAdminAddr and EnvAdminTokenFile are read by `rendezvous admin`
	// too, so one variable names the node's API for both.
	EnvAdminAddr      = "RENDEZVOUS_ADMIN_ADDR"
	EnvAdminTokenFile = "RENDEZVOUS_ADMIN_TOKEN_FILE"
)

// FromEnv reads overrides through getenv (os.Getenv in production). An empty
// variable counts as unset.
func FromEnv(getenv func(string) string) (Overrides, error) {
	var o Overrides
	str := func(name string) *string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return &v
		}
		return nil
	}
	if v := str(EnvPort); v != nil {
		p, err := parsePort(*v)
		if err != nil {
			return Overrides{}, fmt.Errorf("config: %s=%q: %w", EnvPort, *v, err)
		}
		o.Port = &p
	}
	o.Host = str(EnvHost)
	o.KeyFile = str(EnvIdentity)
	o.LogLevel = str(EnvLogLevel)
	o.LogFormat = str(EnvLogFormat)
	o.MetricsAddr = str(EnvMetricsAddr)
	if v := str(EnvAnnounce); v != nil {
		o.Announce = SplitList(*v)
	}
	o.NATSURL = str(EnvNATSURL)
	o.ClusterListen = str(EnvClusterListen)
	if v := str(EnvClusterRoutes); v != nil {
		o.ClusterRoutes = SplitList(*v)
	}
	o.ClusterStore = str(EnvClusterStore)
	o.AdminAddr = str(EnvAdminAddr)
	o.AdminTokenFile = str(EnvAdminTokenFile)
	if v := str(EnvMaxPeers); v != nil {
		n, err := strconv.Atoi(*v)
		if err != nil {
			return Overrides{}, fmt.Errorf("config: %s=%q: not a number", EnvMaxPeers, *v)
		}
		o.MaxPeers = &n
	}
	for name, dst := range map[string]**bool{EnvNoWebRTCDirect: &o.NoWebRTCDirect, EnvNoWebTransport: &o.NoWebTransport, EnvNoPubsub: &o.NoPubsub, EnvNoLegacy: &o.NoLegacy, EnvAutoTLS: &o.AutoTLS,
		EnvDisableCryptoChallenge: &o.DisableCryptoChallenge, EnvDisableStrictMultiaddr: &o.DisableStrictMultiaddr} {
		if v := str(name); v != nil {
			b, err := parseBool(*v)
			if err != nil {
				return Overrides{}, fmt.Errorf("config: %s=%q: %w", name, *v, err)
			}
			*dst = &b
		}
	}
	if v := str(EnvDisableMetrics); v != nil {
		// The legacy server disabled metrics for any non-empty value, even
		// "0" and "false"; here those mean what they say.
		b, err := parseBool(*v)
		if err != nil {
			return Overrides{}, fmt.Errorf("config: %s=%q: %w", EnvDisableMetrics, *v, err)
		}
		o.DisableMetrics = &b
	}
	return o, nil
}

// SplitList splits a comma-separated list, dropping blanks around and
// between items.
func SplitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (use true/false, 1/0, yes/no or on/off)")
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("port must be a number from 0 to 65535")
	}
	return p, nil
}

// Merge returns o with every field that later sets replaced by later's value.
func (o Overrides) Merge(later Overrides) Overrides {
	pick(&o.Host, later.Host)
	pick(&o.Port, later.Port)
	pick(&o.KeyFile, later.KeyFile)
	if later.Announce != nil {
		o.Announce = later.Announce
	}
	pick(&o.CertFile, later.CertFile)
	pick(&o.KeyFilePEM, later.KeyFilePEM)
	pick(&o.MetricsAddr, later.MetricsAddr)
	pick(&o.DisableMetrics, later.DisableMetrics)
	pick(&o.LogLevel, later.LogLevel)
	pick(&o.LogFormat, later.LogFormat)
	pick(&o.RequireIdentity, later.RequireIdentity)
	pick(&o.NATSURL, later.NATSURL)
	pick(&o.ClusterListen, later.ClusterListen)
	if later.ClusterRoutes != nil {
		o.ClusterRoutes = later.ClusterRoutes
	}
	pick(&o.ClusterStore, later.ClusterStore)
	pick(&o.MaxPeers, later.MaxPeers)
	pick(&o.NoWebRTCDirect, later.NoWebRTCDirect)
	pick(&o.NoWebTransport, later.NoWebTransport)
	pick(&o.AutoTLS, later.AutoTLS)
	pick(&o.NoPubsub, later.NoPubsub)
	pick(&o.NoLegacy, later.NoLegacy)
	pick(&o.DisableCryptoChallenge, later.DisableCryptoChallenge)
	pick(&o.DisableStrictMultiaddr, later.DisableStrictMultiaddr)
	pick(&o.AdminAddr, later.AdminAddr)
	pick(&o.AdminTokenFile, later.AdminTokenFile)
	return o
}

func pick[T any](dst **T, later *T) {
	if later != nil {
		*dst = later
	}
}

// Apply writes the set fields of o into c. When Host or Port is set, listen
// becomes the addresses on that host (default 0.0.0.0) and port (default
// 9090): TCP /tls/ws when a TLS certificate and key are configured (after
// o's own TLS fields), /ws otherwise, then UDP /webrtc-direct and
// /quic-v1/webtransport. NoWebRTCDirect and NoWebTransport then drop those
// transports' addresses, whichever source listen came from. On error c is
// unchanged.
func (c *Config) Apply(o Overrides) error {
	n := *c
	if o.KeyFile != nil {
		n.Identity.KeyFile = *o.KeyFile
	}
	if o.RequireIdentity != nil {
		n.Identity.RequireExisting = *o.RequireIdentity
	}
	if o.Announce != nil {
		n.Announce = append([]string{}, o.Announce...)
	}
	if o.CertFile != nil {
		n.TLS.CertFile = *o.CertFile
	}
	if o.KeyFilePEM != nil {
		n.TLS.KeyFile = *o.KeyFilePEM
	}
	if o.MetricsAddr != nil {
		n.Metrics.Addr = *o.MetricsAddr
	}
	if o.DisableMetrics != nil {
		n.Metrics.Enabled = !*o.DisableMetrics
	}
	if o.LogLevel != nil {
		n.Log.Level = *o.LogLevel
	}
	if o.LogFormat != nil {
		n.Log.Format = *o.LogFormat
	}
	if o.NATSURL != nil {
		n.Cluster.NATSURL = *o.NATSURL
	}
	if o.ClusterListen != nil {
		n.Cluster.Embedded.Listen = *o.ClusterListen
	}
	if o.ClusterRoutes != nil {
		n.Cluster.Embedded.Routes = append([]string{}, o.ClusterRoutes...)
	}
	if o.ClusterStore != nil {
		n.Cluster.Embedded.StoreDir = *o.ClusterStore
	}
	if o.MaxPeers != nil {
		n.Capacity.Peers = *o.MaxPeers
	}
	if o.AdminAddr != nil {
		n.Admin.Addr = *o.AdminAddr
	}
	if o.AdminTokenFile != nil {
		n.Admin.TokenFile = *o.AdminTokenFile
	}
	if o.AutoTLS != nil {
		n.AutoTLS.Enabled = *o.AutoTLS
	}
	if o.NoPubsub != nil {
		n.Pubsub.Enabled = !*o.NoPubsub
	}
	if o.NoLegacy != nil {
		n.Legacy.Enabled = !*o.NoLegacy
	}
	if o.DisableCryptoChallenge != nil && *o.DisableCryptoChallenge {
		n.Legacy.CryptoChallenge = false
	}
	if o.DisableStrictMultiaddr != nil && *o.DisableStrictMultiaddr {
		n.Legacy.StrictMultiaddr = false
	}
	if o.Host != nil || o.Port != nil {
		host, port := "0.0.0.0", DefaultPort
		if o.Host != nil {
			host = *o.Host
		}
		if o.Port != nil {
			port = *o.Port
		}
		addrs, err := listenAddrs(host, port, n.TLS.CertFile != "" && n.TLS.KeyFile != "")
		if err != nil {
			return err
		}
		n.Listen = addrs
	}
	n.Listen = dropListeners(n.Listen, o.NoWebRTCDirect, listenWebRTCDirect)
	n.Listen = dropListeners(n.Listen, o.NoWebTransport, listenWebTransport)
	*c = n
	return nil
}

// dropListeners removes the addresses of kind when drop is set and true.
// Unparsable entries stay, for Validate to report.
func dropListeners(listen []string, drop *bool, kind int) []string {
	if drop == nil || !*drop {
		return listen
	}
	out := []string{}
	for _, s := range listen {
		if a, err := ma.NewMultiaddr(s); err == nil {
			if k, err := listenerKind(a); err == nil && k == kind {
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// listenAddrs builds the WebSocket, WebRTC-direct and WebTransport listen
// multiaddrs. go-libp2p binds IP addresses only, so a DNS name is refused
// here rather than at startup.
func listenAddrs(host string, port int, tls bool) ([]string, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("config: port %d: must be from 0 to 65535", port)
	}
	var proto string
	h := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(host), "["), "]")
	if strings.EqualFold(h, "localhost") {
		h, proto = "127.0.0.1", "ip4"
	} else {
		ip, err := netip.ParseAddr(h)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("config: host %q: must be an IPv4 or IPv6 address or \"localhost\" (go-libp2p cannot listen on a DNS name)", host)
		}
		ip = ip.Unmap()
		h, proto = ip.String(), "ip6"
		if ip.Is4() {
			proto = "ip4"
		}
	}
	suffix := "/ws"
	if tls {
		suffix = "/tls/ws"
	}
	return []string{
		fmt.Sprintf("/%s/%s/tcp/%d%s", proto, h, port, suffix),
		fmt.Sprintf("/%s/%s/udp/%d/webrtc-direct", proto, h, port),
		fmt.Sprintf("/%s/%s/udp/%d/quic-v1/webtransport", proto, h, port),
	}, nil
}
