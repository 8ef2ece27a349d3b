package capacity

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
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/x/rate"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/limits"
)

// NewResourceManager sizes go-libp2p's resource manager for a public node
// serving many browser peers, from a sized configuration (config.Sized). The
// defaults of go-libp2p are for a desktop node (128 inbound connections on
// 8 GiB); a rendezvous node needs the system, transient, relay and
// per-protocol scopes raised together.
//
// go-libp2p's per-event stats reporter is off; the returned collector reads
// the same usage when scraped.
func NewResourceManager(c config.Config, machineMemory uint64, obs limits.Observer) (network.ResourceManager, prometheus.Collector, error) {
	r := c.Resources
	mem := int64(r.MaxMemoryMB) << 20
	fds := r.MaxFileDescriptors

	// The per-peer and per-connection defaults scale with the real memory
	// (a quarter of it), not with mem, which budgets window accounting for
	// every stream the node allows: a single peer must not get more room
	// because the node serves more peers.
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(min(mem, max(int64(machineMemory/4), 1<<30)), fds)

	conns := rcmgr.LimitVal(r.MaxConnections)
	streams := rcmgr.LimitVal(r.MaxStreams)
	circuits := c.Relay.MaxActiveCircuits
	// A circuit is a hop stream in and a stop stream out; reservations are
	// short streams on the hop protocol.
	relayStreams := rcmgr.LimitVal(2*circuits + 1024)
	relayMem := rcmgr.LimitVal64(int64(c.RelayMemory()))

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
			circuit.ServiceName: relayScope,
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
	scopes := partial.Build(base)

	exempt := config.ValidSubnets(r.TrustedSubnets)
	opts := []rcmgr.Option{
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: r.ConnsPerIP}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: r.ConnsPerIP}},
		),
		rcmgr.WithNetworkPrefixLimit(unlimitedConns(exempt)),
		rcmgr.WithConnRateLimiters(connRateLimiter(r, exempt)),
		rcmgr.WithMetricsDisabled(),
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(scopes), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("resource manager: %w", err)
	}
	return observedResources{ResourceManager: mgr, obs: obs}, newResourceCollector(mgr, scopes), nil
}

// unlimitedConns never returns nil lists: the resource manager reads nil as
// "keep its defaults", which exempt loopback whatever the configuration says.
func unlimitedConns(exempt []netip.Prefix) (v4, v6 []rcmgr.NetworkPrefixLimit) {
	v4, v6 = []rcmgr.NetworkPrefixLimit{}, []rcmgr.NetworkPrefixLimit{}
	for _, p := range exempt {
		l := rcmgr.NetworkPrefixLimit{Network: p, ConnCount: math.MaxInt}
		if p.Addr().Is4() {
			v4 = append(v4, l)
		} else {
			v6 = append(v6, l)
		}
	}
	return v4, v6
}

func connRateLimiter(r config.Resources, exempt []netip.Prefix) *rate.Limiter {
	unlimited := make([]rate.PrefixLimit, len(exempt))
	for i, p := range exempt {
		unlimited[i] = rate.PrefixLimit{Prefix: p}
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
