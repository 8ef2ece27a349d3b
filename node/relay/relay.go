package relay

import (
	"fmt"
	"net/netip"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/internal/netaddr"
)

// ProtectTag protects a peer holding a relay reservation from the
// connection manager (see Reservations).
const ProtectTag = "relay-reservation"

// Start starts the circuit relay v2 service. By default relayed
// connections are unlimited, so clients see ordinary connections (as the
// legacy websocket-star relay behaved for its browser peers).
func Start(h host.Host, c config.Relay, reg prometheus.Registerer, rs *Reservations, obs limits.Observer) (*circuit.Relay, error) {
	rc := circuit.DefaultResources()
	rc.ReservationTTL = c.ReservationTTL.D()
	rc.MaxReservations = c.MaxReservations
	rc.MaxCircuits = c.MaxCircuits
	rc.BufferSize = c.BufferSize
	// The relay has no "no cap" value: a cap equal to the total is none.
	rc.MaxReservationsPerIP = capOrTotal(c.MaxReservationsPerIP, c.MaxReservations)
	rc.MaxReservationsPerASN = capOrTotal(c.MaxReservationsPerASN, c.MaxReservations)
	rc.Limit = nil
	if c.LimitDuration > 0 || c.LimitData > 0 {
		rc.Limit = &circuit.RelayLimit{Duration: c.LimitDuration.D(), Data: c.LimitData}
	}
	acl, err := newRelayACL(c.ACL)
	if err != nil {
		return nil, err
	}
	opts := []circuit.Option{
		circuit.WithResources(rc),
		circuit.WithACL(acl),
		// The node's advertised addresses are already curated by the address
		// policy; on a loopback or LAN deployment they are all a client can dial.
		circuit.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true }),
	}
	var tracer circuit.MetricsTracer = nopRelayTracer{}
	if reg != nil {
		tracer = circuit.NewMetricsTracer(circuit.WithRegisterer(reg))
	}
	gate := newCircuitGate(c.MaxActiveCircuits, obs)
	gate.tracer = tracer
	opts = append(opts, circuit.WithMetricsTracer(relayRefusals{MetricsTracer: tracer, obs: obs, gate: gate}))
	rs.bind(h, rc.ReservationTTL)
	// Before the relay starts, so no grant's disconnect goes unseen.
	nf := rs.notifiee()
	h.Network().Notify(nf)
	r, err := circuit.New(relayHost{Host: h, cm: reservationTags{ConnManager: h.ConnManager(), rs: rs}, gate: gate}, opts...)
	if err != nil {
		h.Network().StopNotify(nf)
		return nil, fmt.Errorf("relay service: %w", err)
	}
	return r, nil
}

func capOrTotal(v, total int) int {
	if v <= 0 {
		return total
	}
	return v
}

// relayACL allows reservations from the configured peers and subnets (all,
// when both lists are empty).
type relayACL struct {
	peers   map[peer.ID]struct{}
	subnets []netip.Prefix
}

func newRelayACL(c config.RelayACL) (*relayACL, error) {
	a := &relayACL{}
	if len(c.AllowPeers) > 0 {
		ids, err := config.ParsePeerIDs("circuit.acl.allow_peers", c.AllowPeers)
		if err != nil {
			return nil, err
		}
		a.peers = make(map[peer.ID]struct{}, len(ids))
		for _, p := range ids {
			a.peers[p] = struct{}{}
		}
	}
	subnets, err := config.ParseSubnets("circuit.acl.allow_subnets", c.AllowSubnets)
	if err != nil {
		return nil, err
	}
	a.subnets = subnets
	return a, nil
}

func (a *relayACL) restricted() bool { return a.peers != nil || len(a.subnets) > 0 }

// AllowReserve only filters: the relay may still refuse the reservation on
// its own limits, so the grant is observed in reservationTags.
func (a *relayACL) AllowReserve(p peer.ID, addr ma.Multiaddr) bool {
	return !a.restricted() || a.allowed(p, addr)
}

func (a *relayACL) allowed(p peer.ID, addr ma.Multiaddr) bool {
	if _, ok := a.peers[p]; ok {
		return true
	}
	return netaddr.InAny(addr, a.subnets)
}

// AllowConnect lets anyone dial a peer that holds a reservation: the
// reservation is the destination's consent.
func (a *relayACL) AllowConnect(peer.ID, ma.Multiaddr, peer.ID) bool { return true }
