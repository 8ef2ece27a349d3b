package node

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/x/rate"
	"github.com/pbnjay/memory"

	"github.com/ws-star/rendezvous/config"
)

// relayServiceName is the rcmgr service scope of circuit relay v2.
const relayServiceName = relay.ServiceName

// newResourceManager sizes go-libp2p's resource manager for a public node
// serving many browser peers. The defaults of go-libp2p are for a desktop
// node (128 inbound connections on 8 GiB); a rendezvous node needs the
// system, transient, relay and per-protocol scopes raised together.
func newResourceManager(c config.Config) (network.ResourceManager, rcmgr.ConcreteLimitConfig, error) {
	r := c.Resources
	mem := int64(r.MaxMemoryMB) << 20
	if mem == 0 {
		mem = max(int64(memory.TotalMemory())/4, 1<<30)
	}
	fds := r.MaxFileDescriptors
	if fds == 0 {
		fds = autoFDs()
	}

	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(mem, fds)

	conns := rcmgr.LimitVal(r.MaxConnections)
	streams := rcmgr.LimitVal(r.MaxStreams)
	circuits := c.Relay.MaxActiveCircuits
	// A circuit is a hop stream in and a stop stream out; reservations are
	// short streams on the hop protocol.
	relayStreams := rcmgr.LimitVal(2*circuits + 1024)
	relayMem := rcmgr.LimitVal64(int64(2*circuits*c.Relay.BufferSize) + 64<<20)

	big := rcmgr.ResourceLimits{
		Streams:         streams,
		StreamsInbound:  streams,
		StreamsOutbound: streams,
		Conns:           conns,
		ConnsInbound:    conns,
		ConnsOutbound:   conns,
		Memory:          rcmgr.LimitVal64(mem),
		FD:              rcmgr.LimitVal(fds),
	}
	quarter := func(v rcmgr.LimitVal) rcmgr.LimitVal { return max(v/4, 256) }
	relayScope := rcmgr.ResourceLimits{
		Streams:         relayStreams,
		StreamsInbound:  relayStreams,
		StreamsOutbound: relayStreams,
		Memory:          relayMem,
	}
	partial := rcmgr.PartialLimitConfig{
		System: big,
		Transient: rcmgr.ResourceLimits{
			Streams:         quarter(streams),
			StreamsInbound:  quarter(streams),
			StreamsOutbound: quarter(streams),
			Conns:           quarter(conns),
			ConnsInbound:    quarter(conns),
			ConnsOutbound:   quarter(conns),
			Memory:          rcmgr.LimitVal64(mem / 4),
			FD:              rcmgr.LimitVal(max(fds/4, 1)),
		},
		// The project's own services enforce per-peer caps themselves; the
		// shared scopes only need room for every connected peer.
		ServiceDefault: rcmgr.ResourceLimits{
			Streams: streams, StreamsInbound: streams, StreamsOutbound: streams,
			Memory: rcmgr.LimitVal64(mem / 2),
		},
		ProtocolDefault: rcmgr.ResourceLimits{
			Streams: streams, StreamsInbound: streams, StreamsOutbound: streams,
			Memory: rcmgr.LimitVal64(mem / 2),
		},
		Service: map[string]rcmgr.ResourceLimits{
			relayServiceName: relayScope,
		},
		Protocol: map[protocol.ID]rcmgr.ResourceLimits{
			proto.ProtoIDv2Hop:  relayScope,
			proto.ProtoIDv2Stop: relayScope,
		},
	}
	for _, name := range []string{"libp2p.identify", "libp2p.ping"} {
		partial.Service[name] = rcmgr.ResourceLimits{
			Streams: streams, StreamsInbound: streams, StreamsOutbound: streams,
			Memory: rcmgr.LimitVal64(mem / 4),
		}
	}
	limits := partial.Build(base)

	opts := []rcmgr.Option{
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: r.ConnsPerIP}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: r.ConnsPerIP}},
		),
		rcmgr.WithConnRateLimiters(connRateLimiter(r)),
	}
	if pl := trustedPrefixLimits(r.TrustedSubnets); len(pl.v4)+len(pl.v6) > 0 {
		opts = append(opts, rcmgr.WithNetworkPrefixLimit(pl.v4, pl.v6))
	}
	str, err := rcmgr.NewStatsTraceReporter()
	if err != nil {
		return nil, limits, err
	}
	opts = append(opts, rcmgr.WithTraceReporter(str))
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits), opts...)
	if err != nil {
		return nil, limits, fmt.Errorf("resource manager: %w", err)
	}
	return mgr, limits, nil
}

type prefixLimits struct{ v4, v6 []rcmgr.NetworkPrefixLimit }

// trustedPrefixLimits exempts the configured subnets and loopback from the
// per-IP connection caps.
func trustedPrefixLimits(subnets []string) prefixLimits {
	out := prefixLimits{
		v4: []rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("127.0.0.0/8"), ConnCount: math.MaxInt}},
		v6: []rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("::1/128"), ConnCount: math.MaxInt}},
	}
	for _, s := range subnets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue // rejected by config validation
		}
		l := rcmgr.NetworkPrefixLimit{Network: p.Masked(), ConnCount: math.MaxInt}
		if p.Addr().Is4() {
			out.v4 = append(out.v4, l)
		} else {
			out.v6 = append(out.v6, l)
		}
	}
	return out
}

func connRateLimiter(r config.Resources) *rate.Limiter {
	unlimited := []rate.PrefixLimit{
		{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
		{Prefix: netip.MustParsePrefix("::1/128")},
	}
	for _, s := range r.TrustedSubnets {
		if p, err := netip.ParsePrefix(s); err == nil {
			unlimited = append(unlimited, rate.PrefixLimit{Prefix: p.Masked()})
		}
	}
	perIP := rate.Limit{RPS: r.ConnRatePerIP, Burst: r.ConnBurstPerIP}
	return &rate.Limiter{
		NetworkPrefixLimits: unlimited,
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: perIP}},
			IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: perIP}},
			GracePeriod:      time.Minute,
		},
	}
}
