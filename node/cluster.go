package node

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/cluster"
	"github.com/ws-star/rendezvous/registry"
)

// startCluster connects to NATS (starting the embedded server first in
// embedded mode) and returns the shared registry. It does not wait for
// JetStream: the registry syncs in the background and /readyz tells when.
func (n *Node) startCluster(policy registry.Policy, reg prometheus.Registerer) (*cluster.Registry, error) {
	c := n.cfg.Cluster
	log := n.log.With("component", "cluster")
	client := cluster.ClientConfig{Name: "rendezvous " + n.Host.ID().String()}
	if c.Embedded.Listen != "" {
		srv, err := cluster.StartServer(cluster.ServerConfig{
			Name:         n.Host.ID().String(),
			Cluster:      c.Embedded.Name,
			Listen:       c.Embedded.Listen,
			Routes:       c.Embedded.Routes,
			StoreDir:     n.cfg.ClusterStoreDir(),
			ClientListen: c.Embedded.ClientListen,
			SyncInterval: c.Embedded.SyncInterval.D(),
			SyncAlways:   c.Embedded.SyncAlways,
			Logger:       log.With("component", "nats-server"),
		})
		if err != nil {
			return nil, err
		}
		n.closers = append(n.closers, func() error { srv.Shutdown(); return nil })
		client = srv.Client(client.Name)
		log.Info("embedded NATS server started", "cluster_listen", c.Embedded.Listen, "routes", c.Embedded.Routes,
			"store_dir", n.cfg.ClusterStoreDir(), "client_listen", srv.ClientAddr())
	} else {
		client.URLs, client.Creds, client.TLSCA = c.URLs(), c.NATSCreds, c.NATSTLSCA
	}
	nc, err := cluster.Connect(client)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() error { nc.Close(); return nil })
	if client.Server == nil {
		log.Info("using external NATS", "servers", c.RedactedURL())
	}
	lim := c.Limits
	lim.Replicas = c.EffectiveReplicas()
	opts := []cluster.Option{
		cluster.WithLimits(lim),
		cluster.WithRegistryLimits(n.cfg.Registry.Limits),
		cluster.WithPolicy(policy),
		cluster.WithLogger(log),
		cluster.WithVersion(Version),
	}
	if reg != nil {
		opts = append(opts, cluster.WithRegisterer(reg))
	}
	r, err := cluster.New(n.Host, nc, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster registry: %w", err)
	}
	n.closers = append(n.closers, r.Close)
	return r, nil
}
