package bench

import (
	"math"

	"github.com/ws-star/rendezvous/internal/promtext"
)

// clusterMetrics are the cluster figures of every node's /metrics, folded
// over the nodes.
type clusterMetrics struct {
	nodesMin, lagMax, pendingMax           float64
	writesOK, writesDeferred, writesFailed float64
	renewalsBad                            float64
}

// scrapeCluster reads the rendezvous_cluster_* series of every node; a
// figure no node gave is NaN.
func scrapeCluster(nodes []*Target) clusterMetrics {
	nan := math.NaN()
	m := clusterMetrics{nan, nan, nan, nan, nan, nan, nan}
	minOf := func(a, b float64) float64 {
		if math.IsNaN(a) || b < a {
			return b
		}
		return a
	}
	maxOf := func(a, b float64) float64 {
		if math.IsNaN(a) || b > a {
			return b
		}
		return a
	}
	sumOf := func(a, b float64) float64 {
		if math.IsNaN(a) {
			return b
		}
		return a + b
	}
	for _, n := range nodes {
		fams, err := scrapeMetrics(n.MetricsURL)
		if err != nil {
			continue
		}
		for _, s := range []struct {
			series promtext.Series
			into   *float64
			fold   func(a, b float64) float64
		}{
			{promtext.Series{Name: "rendezvous_cluster_nodes"}, &m.nodesMin, minOf},
			{promtext.Series{Name: "rendezvous_cluster_lag"}, &m.lagMax, maxOf},
			{promtext.Series{Name: "rendezvous_cluster_pending_writes"}, &m.pendingMax, maxOf},
			{writesTotal("ok"), &m.writesOK, sumOf},
			{writesTotal("deferred"), &m.writesDeferred, sumOf},
			{writesTotal("failed"), &m.writesFailed, sumOf},
			{renewalsTotal("failed"), &m.renewalsBad, sumOf},
			{renewalsTotal("lost"), &m.renewalsBad, sumOf},
		} {
			if v, ok := fams.SumOf(s.series); ok {
				*s.into = s.fold(*s.into, v)
			}
		}
	}
	return m
}

func writesTotal(result string) promtext.Series {
	return promtext.Series{Name: "rendezvous_cluster_writes_total", Labels: []string{"result", result}}
}

func renewalsTotal(result string) promtext.Series {
	return promtext.Series{Name: "rendezvous_cluster_lease_renewals_total", Labels: []string{"result", result}}
}
