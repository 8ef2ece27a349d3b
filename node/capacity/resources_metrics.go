package capacity

import (
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/prometheus/client_golang/prometheus"
)

// resourceCollector reports the resource manager's system and transient
// usage and limits when scraped. It replaces go-libp2p's stats trace
// reporter, which updates Prometheus on every stream, connection and memory
// event of every peer: 12 % of the node's CPU with browsers pinging every
// 10 s.
type resourceCollector struct {
	rm     network.ResourceManager
	limits map[string]map[string]float64 // scope -> resource -> limit
	usage  *prometheus.Desc
	limit  *prometheus.Desc
}

func newResourceCollector(rm network.ResourceManager, scopes rcmgr.ConcreteLimitConfig) *resourceCollector {
	p := scopes.ToPartialLimitConfig()
	limitsOf := func(l rcmgr.ResourceLimits) map[string]float64 {
		return map[string]float64{
			"connections":      float64(l.Conns),
			"streams":          float64(l.Streams),
			"memory_bytes":     float64(l.Memory),
			"file_descriptors": float64(l.FD),
		}
	}
	return &resourceCollector{
		rm:     rm,
		limits: map[string]map[string]float64{"system": limitsOf(p.System), "transient": limitsOf(p.Transient)},
		usage: prometheus.NewDesc("rendezvous_resources_used",
			"Resource manager usage by scope (system, transient) and resource, read when scraped.",
			[]string{"scope", "resource"}, nil),
		limit: prometheus.NewDesc("rendezvous_resources_limit",
			"Resource manager limit by scope and resource.",
			[]string{"scope", "resource"}, nil),
	}
}

func (c *resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.usage
	ch <- c.limit
}

func (c *resourceCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(scope string) func(network.ResourceScope) error {
		return func(s network.ResourceScope) error {
			st := s.Stat()
			for res, v := range map[string]float64{
				"connections":      float64(st.NumConnsInbound + st.NumConnsOutbound),
				"streams":          float64(st.NumStreamsInbound + st.NumStreamsOutbound),
				"memory_bytes":     float64(st.Memory),
				"file_descriptors": float64(st.NumFD),
			} {
				ch <- prometheus.MustNewConstMetric(c.usage, prometheus.GaugeValue, v, scope, res)
				ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, c.limits[scope][res], scope, res)
			}
			return nil
		}
	}
	_ = c.rm.ViewSystem(emit("system"))
	_ = c.rm.ViewTransient(emit("transient"))
}
