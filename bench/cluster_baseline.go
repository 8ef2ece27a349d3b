package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// baseline runs the capacity scenario against one node without cluster
// carrying one cluster node's share of the peers (perNode), and adds its
// figures and the cluster's cost over it (clusterCPU and clusterRSS are the
// cluster's means) to r.
func (o ClusterOptions) baseline(ctx context.Context, r *Report, perNode int, clusterCPU, clusterRSS float64) error {
	o.Progress.Logf("baseline: one node without cluster, %d peers", perNode)
	dir := filepath.Join(o.Dir, "single")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	t, err := startProcess(ctx, o.Binary, BenchConfig(dir, ""), dir, o.NodeLog)
	if err != nil {
		return fmt.Errorf("bench: baseline node: %w", err)
	}
	single := o.CapacityOptions
	single.Peers = perNode
	single.Progress = o.Progress.With("baseline")
	br, err := Capacity(ctx, t, single)
	if cerr := t.Close(); cerr != nil {
		o.Progress.Logf("stopping the baseline node: %v", cerr)
	}
	if err != nil {
		return fmt.Errorf("bench: baseline: %w", err)
	}
	what := fmt.Sprintf("one node without cluster, %d peers, ns-size %d", perNode, o.NSSize)
	for _, name := range []string{"join-to-visible p50", "join-to-visible p99"} {
		if bf, ok := br.Figure(name); ok {
			r.add("single node "+name, bf.Value, bf.Unit).note(what)
		}
	}
	bcpu, _ := br.Figure("node CPU, idle peers")
	brss, _ := br.Figure("node RSS, idle peers")
	r.add("single node CPU, idle peers", bcpu.Value, bcpu.Unit).note(what)
	r.add("single node RSS, idle peers", brss.Value, brss.Unit).note(what)
	r.add("cluster cost: CPU per node", clusterCPU-bcpu.Value, "% of 1 core").
		note("mean over the cluster's nodes before the kill minus the single node")
	r.add("cluster cost: RSS per node", clusterRSS-brss.Value, "MiB").
		note("mean over the cluster's nodes before the kill minus the single node")
	return nil
}
