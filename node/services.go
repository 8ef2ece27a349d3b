package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/protocols/legacy"
	"github.com/ws-star/rendezvous/protocols/pubsub"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

// startServices starts the registry and the discovery protocols on the host.
// Both protocols share one registry, so a peer registered through
// /rendezvous/1.0.0 appears in live views and the other way round.
func (n *Node) startServices(reg prometheus.Registerer) error {
	c := n.cfg
	policy := c.Namespaces.Policy()
	var mem registry.Registry
	if c.Cluster.Enabled() {
		cr, err := n.startCluster(policy, reg)
		if err != nil {
			return err
		}
		n.Cluster = cr
		n.stats = cr.Local()
		mem = cr
	} else {
		regOpts := []registry.Option{
			registry.WithLimits(c.Registry.Limits),
			registry.WithPolicy(policy),
			registry.WithLogger(n.log.With("component", "registry")),
		}
		if reg != nil {
			regOpts = append(regOpts, registry.WithRegisterer(reg))
		}
		m, err := registry.New(regOpts...)
		if err != nil {
			return err
		}
		n.closers = append(n.closers, m.Close)
		n.stats = m
		mem = m
	}
	n.Registry = mem

	if c.Rendezvous.Enabled {
		opts := []rendezvous.Option{
			rendezvous.WithLimits(c.Rendezvous.Limits),
			rendezvous.WithTrustedSubnets(config.ValidSubnets(c.Resources.TrustedSubnets)),
			rendezvous.WithMaxTrackedPeers(c.Resources.MaxConnections),
			rendezvous.WithLimitObserver(n.limits),
			rendezvous.WithLogger(n.log.With("component", "rendezvous")),
		}
		if reg != nil {
			opts = append(opts, rendezvous.WithRegisterer(reg))
		}
		svc, err := rendezvous.New(n.Host, mem, opts...)
		if err != nil {
			return err
		}
		n.Rendezvous = svc
		n.closers = append(n.closers, svc.Close)
	}

	if c.WSStar.Enabled {
		opts := []wsstar.Option{
			wsstar.WithLimits(c.WSStar.Limits),
			wsstar.WithLimitObserver(n.limits),
			wsstar.WithPolicy(policy),
			wsstar.WithLogger(n.log.With("component", "wsstar")),
		}
		if reg != nil {
			opts = append(opts, wsstar.WithRegisterer(reg))
		}
		svc, err := wsstar.New(n.Host, mem, opts...)
		if err != nil {
			return err
		}
		n.WSStar = svc
		// Closed last-in first-out: the live protocol says goodbye first.
		n.closers = append(n.closers, svc.Close)
	}

	if c.Pubsub.Enabled {
		if len(c.Pubsub.DiscoveryTopicsServed(c.Namespaces)) < len(c.Pubsub.DiscoveryTopics) {
			n.log.Warn("pubsub discovery topic outside namespaces.allow_prefixes: not served; allow it or set pubsub.discovery_topics", "topic", pubsub.DiscoveryTopic)
		}
		opts := []pubsub.Option{
			pubsub.WithLimits(c.Pubsub.Limits),
			pubsub.WithDiscoveryTopics(c.Pubsub.DiscoveryTopicsServed(c.Namespaces)...),
			pubsub.WithRelayedTopics(c.Pubsub.Topics...),
			pubsub.WithPolicy(policy),
			pubsub.WithLimitObserver(n.limits),
			pubsub.WithLogger(n.log.With("component", "pubsub")),
		}
		if n.WSStar != nil {
			opts = append(opts, pubsub.WithRecords(n.WSStar))
		}
		if reg != nil {
			opts = append(opts, pubsub.WithRegisterer(reg))
		}
		svc, err := pubsub.New(n.Host, mem, opts...)
		if err != nil {
			return err
		}
		n.Pubsub = svc
		n.closers = append(n.closers, svc.Close)
	}

	if c.Legacy.Enabled && !c.Legacy.Served(c.Namespaces) {
		n.log.Warn("legacy namespace outside namespaces.allow_prefixes: old ws-star clients not served; allow it or set legacy.namespace", "namespace", c.Legacy.Namespace)
	}
	if c.Legacy.Served(c.Namespaces) {
		opts := []legacy.Option{
			legacy.WithLimits(c.Legacy.Limits),
			legacy.WithNamespace(c.Legacy.Namespace),
			legacy.WithPolicy(policy),
			legacy.WithDenyList(n.deny),
			legacy.WithLimitObserver(n.limits),
			legacy.WithLogger(n.log.With("component", "legacy")),
		}
		if reg != nil {
			opts = append(opts, legacy.WithRegisterer(reg))
		}
		svc, err := legacy.New(mem, opts...)
		if err != nil {
			return err
		}
		n.Legacy = svc
		n.closers = append(n.closers, svc.Close)
	}

	if n.Cluster != nil {
		// Runs first on Close: the other nodes drop this node's members at
		// once, and the services' goodbyes below cost no write each.
		n.closers = append(n.closers, func() error { n.Cluster.Depart(); return nil })
	}

	n.statsFn = func(s *Status) {
		st := n.stats.Stats()
		s.Registrations, s.Namespaces = st.Registrations, st.Namespaces
		if n.WSStar != nil {
			s.Views = n.WSStar.Stats().Views
		}
	}
	return nil
}
