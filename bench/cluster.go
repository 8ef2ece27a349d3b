package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ClusterOptions sizes the cluster scenario.
type ClusterOptions struct {
	// CapacityOptions size the population as in the capacity scenario: Peers
	// are spread over the nodes round-robin, and each probe's join is timed
	// as seen from the other nodes.
	CapacityOptions
	// Nodes is the number of cluster nodes (at least 2; default 3).
	Nodes int
	// Binary is the rendezvous binary; every node runs it as a child.
	Binary string
	// Dir holds the nodes' identities, configs and JetStream stores.
	Dir string
	// Baseline also runs the capacity scenario against one node without
	// cluster, with as many peers as one cluster node holds, and reports
	// the difference.
	Baseline bool
	// ReadyTimeout bounds the wait for every node's /readyz (default 60 s).
	ReadyTimeout time.Duration
	// GhostWait is how long after the kill the surviving views are checked
	// for members of the killed node (default 15 s).
	GhostWait time.Duration
	// NodeLog receives the nodes' own logs (standard error); nil is this
	// process's standard error.
	NodeLog io.Writer
}

func (o *ClusterOptions) defaults() {
	o.CapacityOptions.defaults()
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.GhostWait <= 0 {
		o.GhostWait = 15 * time.Second
	}
	if o.NodeLog == nil {
		o.NodeLog = os.Stderr
	}
}

// MaxClusterNodes bounds --nodes: every node is a process on this machine.
const MaxClusterNodes = 9

// Cluster starts o.Nodes nodes of one embedded cluster from o.Binary, ramps
// o.Peers peers spread over them, times probe joins as seen from the other
// nodes, measures every node idle, then kills the last node with SIGKILL and
// times the LEFT events its members cause in the surviving nodes' views.
// With o.Baseline it then measures one node without cluster carrying one
// cluster node's share of the peers.
func Cluster(ctx context.Context, o ClusterOptions) (*Report, error) {
	o.defaults()
	switch {
	case o.Binary == "":
		return nil, errors.New("bench: the cluster scenario starts its nodes from a binary (--node-bin)")
	case o.Dir == "":
		return nil, errors.New("bench: ClusterOptions.Dir is required")
	case o.Nodes < 2 || o.Nodes > MaxClusterNodes:
		return nil, fmt.Errorf("bench: a cluster of %d nodes: want 2 to %d", o.Nodes, MaxClusterNodes)
	}
	perNode := max(1, o.Peers/o.Nodes)
	r := newReport("cluster", "process", map[string]any{
		"nodes": o.Nodes, "peers": o.Peers, "ns_size": o.NSSize, "probes": o.Probes, "idle": o.Idle.String(),
		"concurrency": o.Concurrency, "ping_every": o.PingEvery.String(), "baseline": o.Baseline, "ghost_wait": o.GhostWait.String(),
	})
	progress := o.Progress.Logf
	gen := SelfSampler{}

	keys, err := Keys(o.Keys, o.Peers+o.Probes)
	if err != nil {
		return nil, err
	}

	progress("starting %d nodes from %s", o.Nodes, o.Binary)
	st := time.Now()
	nodes, err := startClusterNodes(ctx, o.Binary, o.Dir, o.Nodes, o.NodeLog)
	if err != nil {
		return nil, err
	}
	stopNodes := sync.OnceFunc(func() { closeTargets(nodes, o.Progress) })
	defer stopNodes()
	if err := waitReady(ctx, nodes, o.ReadyTimeout); err != nil {
		return nil, err
	}
	readyIn := time.Since(st)
	progress("all %d nodes ready in %.1f s", o.Nodes, readyIn.Seconds())
	r.add("cluster start to all ready", readyIn.Seconds(), "s").note("process start to every node's /readyz 200")
	for i, n := range nodes {
		r.Params[fmt.Sprintf("node%d", i+1)] = n.Info.ID.String()
	}
	killed := len(nodes) - 1
	r.Params["killed_node"] = killed + 1

	base := make([]Sample, len(nodes))
	for i, n := range nodes {
		base[i], _ = sample(n.Node)
	}
	s := newSwarm(nodes[0].Info)
	progress("ramping %d peers over %d nodes", o.Peers, o.Nodes)
	ro := o.rampOptions()
	ro.NodeOf = func(i int) peer.AddrInfo { return nodes[i%len(nodes)].Info }
	pop, err := rampUp(ctx, s, keys[:o.Peers], ro)
	peers := pop.live()
	pings := startPinger(ctx, peers, o.PingEvery)
	closePeers := sync.OnceFunc(func() {
		pings.close()
		pop.close()
	})
	defer closePeers()
	if err != nil {
		return nil, err
	}
	pop.reportRamp(r)

	// Every view must come to show every other member of its namespace
	// (up to its size), wherever that member is connected.
	conv, incomplete := s.converge(ctx, 30*time.Second)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	progress("views complete %.1f s after the ramp (%d incomplete)", conv.Seconds(), incomplete)
	f := r.add("views complete after ramp", conv.Seconds(), "s").note("end of ramp until every view shows all other members of its namespace")
	if incomplete > 0 {
		f.Value = math.NaN()
		f.note(fmt.Sprintf("not within 30 s: %d views still incomplete", incomplete))
	}
	r.add("views incomplete after ramp", float64(incomplete), "views")

	// Probes: each joins on node i mod n; only the views on the other nodes
	// are waited for.
	probeIDs := make(map[peer.ID]struct{})
	pr, err := o.timeProbes(ctx, func(i int, ns string) (time.Duration, int, int, error) {
		key := o.probeKey(keys, i)
		if id, err := peer.IDFromPrivateKey(key); err == nil {
			probeIDs[id] = struct{}{}
		}
		at := nodes[i%len(nodes)].Info
		return s.runProbeOn(ctx, at, key, ns, o.StepTimeout, func(w *livePeer) bool { return w.node != at.ID })
	})
	if err != nil {
		return nil, err
	}
	probes, expected, missing, failed := &pr.lat, pr.expected, pr.missing, pr.failed
	p50, _ := r.addQuantiles("cross-node join-to-visible", probes)
	if probes.Len() > 0 {
		r.addMs("cross-node join-to-visible max", probes.Quantile(1))
	}
	if o.NSSize <= 0 {
		p50.note("one namespace: views are full, so a joiner enters none")
	} else {
		p50.note("probe joins on node i; until the last view with room on another node shows it")
	}
	r.add("probe views expected", float64(expected), "views").note("views with room on the other nodes")
	f = r.add("probe views missed", float64(missing), "views")
	if failed > 0 {
		f.note(fmt.Sprintf("%d probes failed to join", failed))
	}

	// Idle window.
	before := make([]Sample, len(nodes))
	for i, n := range nodes {
		before[i], _ = sample(n.Node)
	}
	ga, _ := gen.Sample()
	if err := o.Progress.Sleep(ctx, "idle window", o.Idle); err != nil {
		return nil, err
	}
	after := make([]Sample, len(nodes))
	for i, n := range nodes {
		after[i], _ = sample(n.Node)
	}
	gb, _ := gen.Sample()
	local := s.peersPerNode()
	var cpuSum, rssSum float64
	for i := range nodes {
		cpu := CPUPercent(before[i], after[i])
		rss := float64(after[i].RSS) / (1 << 20)
		cpuSum += cpu
		rssSum += rss
		r.add(fmt.Sprintf("node %d CPU, idle peers", i+1), cpu, "% of 1 core").
			note(fmt.Sprintf("%d local peers", local[nodes[i].Info.ID]))
		r.add(fmt.Sprintf("node %d RSS, idle peers", i+1), rss, "MiB").
			note(fmt.Sprintf("%.1f MiB before the ramp", float64(base[i].RSS)/(1<<20)))
	}
	clusterCPU, clusterRSS := cpuSum/float64(len(nodes)), rssSum/float64(len(nodes))
	r.add("node CPU, idle peers, mean", clusterCPU, "% of 1 core")
	r.add("node RSS, idle peers, mean", clusterRSS, "MiB")
	r.add("generator CPU, idle peers", CPUPercent(ga, gb), "% of 1 core")
	m := scrapeCluster(nodes)
	r.add("cluster nodes seen, min over nodes", m.nodesMin, "nodes")
	r.add("cluster lag, max over nodes", m.lagMax, "revisions")
	r.add("cluster pending writes, max over nodes", m.pendingMax, "keys")
	r.add("cluster writes failed", m.writesFailed, "writes").note(fmt.Sprintf("%.0f ok, %.0f deferred, summed over nodes", m.writesOK, m.writesDeferred))
	r.add("lease renewals failed or lost", m.renewalsBad, "renewals")
	r.add("probe leavers still shown after idle", float64(s.stillShown(probeIDs)), "views").
		note("views anywhere that still show a probe peer that left")

	// Crash.
	cr := s.crash(ctx, nodes, killed, o.GhostWait, o.Progress)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if cr.killErr != nil {
		return nil, fmt.Errorf("bench: killing node %d: %w", killed+1, cr.killErr)
	}
	cr.report(r, killed, len(nodes)-1, o.GhostWait)

	r.add("OVERFLOW closes", float64(s.overflows.Load()), "views")

	progress("stopping the cluster")
	closePeers()
	stopNodes()

	if o.Baseline {
		if err := o.baseline(ctx, r, perNode, clusterCPU, clusterRSS); err != nil {
			return nil, err
		}
	}
	return r.finish(), nil
}
