package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/protocols/legacy"
	"github.com/ws-star/rendezvous/protocols/pubsub"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
)

// Problem is one invalid setting.
type Problem = setting.Problem

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid configuration: ")
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Bounds that come from specifications or from what the node can honour.
const (
	// MaxRendezvousTTL is the rendezvous spec's maximum registration TTL.
	MaxRendezvousTTL = rendezvous.SpecMaxTTL
	// MaxDiscoverLimit bounds rendezvous.max_discover_limit.
	MaxDiscoverLimit = rendezvous.DiscoverLimitCap
	// MaxLivePeers bounds wsstar.max_peers, the largest live view.
	MaxLivePeers = wsstar.MaxViewSize
	// MaxShutdownTimeout bounds shutdown_timeout: orchestrators kill a
	// process that takes longer anyway.
	MaxShutdownTimeout = 5 * time.Minute
)

// Validate checks every field and returns a *ValidationError listing all
// problems, or nil.
func (c Config) Validate() error {
	v := &validator{}

	v.NonEmpty("identity.key_file", c.Identity.KeyFile)

	if c.Capacity.Peers != 0 && (c.Capacity.Peers < MinPeers || c.Capacity.Peers > MaxPeers) {
		v.Add("capacity.peers", itoa(c.Capacity.Peers), fmt.Sprintf("must be 0 (derived from the machine) or from %d to %d", MinPeers, MaxPeers))
	}

	c.validateAddrs(v)

	r := c.Relay
	v.DurRange("relay.limit_duration", r.LimitDuration, 0, 24*time.Hour, "0 means unlimited")
	v.Int64AtLeast("relay.limit_data", r.LimitData, 0, "0 means unlimited")
	v.DurRange("relay.reservation_ttl", r.ReservationTTL, time.Minute, 24*time.Hour, "")
	v.Derived("relay.max_reservations", r.MaxReservations)
	v.IntRange("relay.max_circuits", r.MaxCircuits, 1, math.MaxInt32)
	v.Derived("relay.max_active_circuits", r.MaxActiveCircuits)
	// Two buffers of this size per circuit; below 512 bytes relaying is
	// dominated by syscalls, above 1 MiB a few thousand circuits exhaust memory.
	v.IntRange("relay.buffer_size", r.BufferSize, 512, 1<<20)
	v.IntAtLeast("relay.max_reservations_per_ip", r.MaxReservationsPerIP, 0, "0 means no cap")
	v.IntAtLeast("relay.max_reservations_per_asn", r.MaxReservationsPerASN, 0, "0 means no cap")
	v.peers("relay.acl.allow_peers", r.ACL.AllowPeers)
	v.subnets("relay.acl.allow_subnets", r.ACL.AllowSubnets)

	res := c.Resources
	v.Derived("resources.max_connections", res.MaxConnections)
	if res.MaxConnections >= 1 && res.MaxConnections <= c.ConnManager.HighWater {
		v.Add("resources.max_connections", itoa(res.MaxConnections),
			fmt.Sprintf("must be greater than conn_manager.high_water (%d), or the resource manager refuses connections before the connection manager ever trims", c.ConnManager.HighWater))
	}
	v.Derived("resources.max_streams", res.MaxStreams)
	v.Derived("resources.max_webrtc_direct_connections", res.MaxWebRTCDirectConnections)
	if res.MaxMemoryMB != 0 && (res.MaxMemoryMB < 64 || res.MaxMemoryMB > 1<<24) {
		v.Add("resources.max_memory_mb", itoa(res.MaxMemoryMB), "must be 0 (a quarter of physical memory, at least 1024) or from 64 to 16777216")
	}
	switch {
	case res.MaxFileDescriptors < 0:
		v.Add("resources.max_file_descriptors", itoa(res.MaxFileDescriptors), "must be 0 (automatic) or positive")
	case res.MaxFileDescriptors > 0 && res.MaxConnections > 0 && res.MaxFileDescriptors < res.MaxConnections:
		v.Add("resources.max_file_descriptors", itoa(res.MaxFileDescriptors),
			fmt.Sprintf("must be 0 (automatic) or at least resources.max_connections (%d): every WebSocket connection holds a socket", res.MaxConnections))
	}
	v.IntRange("resources.conns_per_ip", res.ConnsPerIP, 1, math.MaxInt32)
	v.Rate("resources.conn_rate_per_ip", res.ConnRatePerIP)
	v.IntRange("resources.conn_burst_per_ip", res.ConnBurstPerIP, 1, math.MaxInt32)
	v.subnets("resources.trusted_subnets", res.TrustedSubnets)
	v.subnets("proxy_protocol.from", c.ProxyProtocol.From)
	v.DurRange("resources.handshake_timeout", res.HandshakeTimeout, time.Second, time.Minute, "")

	cm := c.ConnManager
	v.Derived("conn_manager.low_water", cm.LowWater)
	v.Derived("conn_manager.high_water", cm.HighWater)
	if cm.LowWater >= cm.HighWater && cm.HighWater >= 1 && cm.LowWater >= 1 {
		v.Add("conn_manager.low_water", itoa(cm.LowWater), fmt.Sprintf("must be less than conn_manager.high_water (%d)", cm.HighWater))
	}
	v.DurRange("conn_manager.grace_period", cm.GracePeriod, 0, time.Hour, "")
	v.DurRange("conn_manager.keepalive_interval", cm.KeepAliveInterval, 10*time.Second, 10*time.Minute, "")

	// The packages' limits check themselves; the limits derived from
	// capacity.peers have config's rule for 0 and are checked by the
	// packages as the node will run them, sized.
	v.Derived("registry.max_registrations", c.Registry.MaxRegistrations)
	v.Derived("registry.max_namespaces", c.Registry.MaxNamespaces)
	v.Derived("wsstar.max_views", c.WSStar.MaxViews)
	sized := c.sizedForValidation()
	v.Merge("registry.", sized.Registry.Limits.Validate())
	v.Merge("rendezvous.", c.Rendezvous.Limits.Validate())
	v.Merge("wsstar.", sized.WSStar.Limits.Validate())
	v.Merge("pubsub.", c.Pubsub.Limits.Validate())
	if c.Pubsub.Enabled {
		v.Merge("pubsub.", pubsub.ValidateTopics(c.Pubsub.DiscoveryTopicsServed(c.Namespaces), c.Pubsub.Topics, c.Namespaces.Policy()))
	}
	v.Merge("legacy.", c.Legacy.Limits.Validate())
	if c.Legacy.Enabled && c.Legacy.Namespace != legacy.DefaultNamespace {
		if err := c.Namespaces.Policy().Check(c.Legacy.Namespace); err != nil {
			v.Add("legacy.namespace", strconv.Quote(c.Legacy.Namespace), "not a namespace the node serves (namespaces.allow_prefixes)")
		}
	}

	c.Namespaces.validate(v)
	c.Cluster.validate(v)
	c.validateAutoTLS(v)
	c.validateDeny(v)
	c.validateAdmin(v)

	if c.Metrics.Enabled && c.Metrics.Addr == "" && !c.HTTP.Enabled {
		v.Add("metrics.enabled", "true", "metrics are served on the node's port only when http.enabled is true; enable http, set metrics.addr, or disable metrics")
	}
	if c.Metrics.Addr != "" {
		if err := checkHostPort(c.Metrics.Addr, false); err != nil {
			v.Add("metrics.addr", strconv.Quote(c.Metrics.Addr), err.Error())
		}
	}
	if c.Pprof.Addr != "" {
		if err := checkHostPort(c.Pprof.Addr, true); err != nil {
			v.Add("pprof.addr", strconv.Quote(c.Pprof.Addr), err.Error())
		} else if c.Pprof.Addr == c.Metrics.Addr {
			v.Add("pprof.addr", strconv.Quote(c.Pprof.Addr), "must differ from metrics.addr")
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.Add("log.level", strconv.Quote(c.Log.Level), "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.Add("log.format", strconv.Quote(c.Log.Format), "must be text or json")
	}

	if c.ShutdownTimeout <= 0 || c.ShutdownTimeout.D() > MaxShutdownTimeout {
		v.Add("shutdown_timeout", setting.QuoteDuration(c.ShutdownTimeout), "must be greater than 0s and at most 5m")
	}

	if len(v.Problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.Problems}
}

func (c Config) validateAddrs(v *validator) {
	if len(c.Listen) == 0 {
		v.Add("listen", "[]", "at least one listen address is required")
	}
	secure := false
	for i, s := range c.Listen {
		path := fmt.Sprintf("listen[%d]", i)
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			v.Add(path, strconv.Quote(s), "not a multiaddr: "+err.Error())
			continue
		}
		kind, err := listenerKind(a)
		if err != nil {
			v.Add(path, strconv.Quote(s), err.Error())
			continue
		}
		tls := kind == listenWSS
		if tls && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
			v.Add(path, strconv.Quote(s), "a secure WebSocket listener needs tls.cert_file and tls.key_file")
		}
		secure = secure || tls
	}
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		v.Add("tls.key_file", `""`, "required when tls.cert_file is set")
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		v.Add("tls.cert_file", `""`, "required when tls.key_file is set")
	}
	for i, s := range c.Announce {
		path := fmt.Sprintf("announce[%d]", i)
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			v.Add(path, strconv.Quote(s), "not a multiaddr: "+err.Error())
			continue
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
			v.Add(path, strconv.Quote(s), "must not contain /p2p/<id>: the node appends its own")
		}
	}
	for i, s := range c.NoAnnounce {
		if _, err := ma.NewMultiaddr(s); err != nil {
			v.Add(fmt.Sprintf("no_announce[%d]", i), strconv.Quote(s), "not a multiaddr: "+err.Error())
		}
	}
}

// sizedForValidation is c with every limit derived from capacity.peers
// filled in (from the smallest capacity when capacity.peers is itself out
// of bounds), so that the packages validate values the node could run with.
func (c Config) sizedForValidation() Config {
	if c.Capacity.Peers < MinPeers || c.Capacity.Peers > MaxPeers {
		c.Capacity.Peers = MinPeers
	}
	return c.Sized(Machine{})
}

// checkHostPort accepts host:port with a port from 0 to 65535. With
// loopbackOnly, the host must be a loopback IP or "localhost": an empty host
// would listen on every interface.
func checkHostPort(addr string, loopbackOnly bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535")
	}
	if !loopbackOnly {
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("host must be a loopback address (127.0.0.1, ::1 or localhost): profiles must never be public")
}

// validator collects the problems of a configuration; the checks shared
// with the packages' Limits.Validate come from setting.Problems.
type validator struct {
	setting.Problems
}

func (v *validator) subnets(path string, ss []string) {
	for i, s := range ss {
		if _, err := ParseSubnet(s); err != nil {
			v.Add(fmt.Sprintf("%s[%d]", path, i), strconv.Quote(s), err.Error())
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
