package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// newMetricsRegistry returns the registry every component reports to:
// go-libp2p's collectors (swarm, identify, rcmgr, relay), the Go runtime and
// process collectors, and the project's rendezvous_* metrics.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// registerNodeMetrics adds gauges read from the node when scraped.
func (n *Node) registerNodeMetrics(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rendezvous_peers",
			Help: "Peers currently connected to the node.",
		}, func() float64 { return float64(len(n.Host.Network().Peers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rendezvous_relay_reservations",
			Help: "Connected peers holding a relay reservation.",
		}, func() float64 { return float64(n.reservations.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rendezvous_uptime_seconds",
			Help: "Seconds since the node started.",
		}, func() float64 { return n.Uptime().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "rendezvous_build_info",
			Help:        "Always 1; the version label names the build.",
			ConstLabels: prometheus.Labels{"version": Version},
		}, func() float64 { return 1 }),
	)
}
