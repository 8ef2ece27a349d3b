package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// FaultLatency adds latency to the links between the nodes (through the
// route relays, see routeRelays): 100 ms one way between every two nodes,
// then 500 ms on node 3's links only. It runs without partition.
const FaultLatency = "latency"

// Latencies of the fault, one way.
const (
	latencyAll  = 100 * time.Millisecond
	latencySlow = 500 * time.Millisecond
	// latencyProbes is the number of probes of each row.
	latencyProbes = 5
	// latencyHold is how long each latency is held before its probes.
	latencyHold = 10 * time.Second
)

func (ph *faultPhase) latency(ctx context.Context) error {
	c, o := ph.c, ph.o
	rl := c.relays
	setAll := rl.setAllDelays
	defer setAll(0)
	t0 := time.Now()
	hl := c.watchHealth(ctx, t0)
	defer hl.end()
	var phaseAt []string
	// Each latency is held for a while before its probes: what the nodes
	// do with it shows in their health and lease renewals.
	phase := func(what string) error {
		phaseAt = append(phaseAt, fmt.Sprintf("%+.1f s %s", time.Since(t0).Seconds(), what))
		return ph.holdRenewals(ctx, "latency: "+what, latencyHold)
	}

	o.Progress.Logf("latency: none added (the relays only)")
	ph.probes(ctx, "latency: none added, node 1 to 2", 0, []int{1}, latencyProbes)

	o.Progress.Logf("latency: %s one way between every two nodes", latencyAll)
	setAll(latencyAll)
	if err := phase(fmt.Sprintf("%s between nodes", latencyAll)); err != nil {
		return err
	}
	name := fmt.Sprintf("latency: %s between nodes,", latencyAll)
	ph.probes(ctx, name+" node 1 to 2", 0, []int{1}, latencyProbes)
	ph.probes(ctx, name+" node 2 to 3", 1, []int{2}, latencyProbes)

	o.Progress.Logf("latency: %s one way on node 3's links only", latencySlow)
	setAll(0)
	// Every write waits for the stream's leader: with the leader on the
	// slow node, a write takes four slow trips, past the nodes' 2 s write
	// deadline, and the whole cluster is degraded (docs/reliability.md).
	// The leader is moved off node 3 first, so that the row measures a
	// slow follower.
	if l, err := c.anyStreamLeader(ctx); err == nil && l == 2 {
		if err := c.stepDownStream(ctx, 2); err != nil {
			return err
		}
	}
	rl.setDelay(0, 2, latencySlow)
	rl.setDelay(1, 2, latencySlow)
	if err := phase(fmt.Sprintf("node 3 slowed to %s", latencySlow)); err != nil {
		return err
	}
	leader := -1
	if l, err := c.anyStreamLeader(ctx); err == nil {
		leader = l
	}
	name = fmt.Sprintf("latency: node 3 slowed to %s,", latencySlow)
	ph.r.add(name+" stream leader", float64(leader+1), "node").note("the node whose JetStream server leads the bucket, moved off node 3 before the slowdown")
	ph.probes(ctx, name+" node 1 to 2", 0, []int{1}, latencyProbes)
	ph.probes(ctx, name+" node 1 to 3", 0, []int{2}, latencyProbes)
	setAll(0)
	phaseAt = append(phaseAt, fmt.Sprintf("%+.1f s none added", time.Since(t0).Seconds()))
	ph.recovered(ctx, "latency", phaseAt, hl)
	return nil
}

// recovered reports, once a fault is lifted, the time until every node is
// ready again, the fault's phases and each node's health over the run; name
// prefixes the rows.
func (ph *faultPhase) recovered(ctx context.Context, name string, phaseAt []string, hl *healthLog) {
	took := ph.c.allReady(ctx, ph.o.Recover)
	ph.r.add(name+": removed, to all nodes ready", took, "s").note("every node's /readyz 200 and rendezvous_cluster_nodes 3")
	ph.r.add(name+": phases", math.NaN(), "").note(strings.Join(phaseAt, "; "))
	for i, l := range hl.end() {
		ph.r.add(fmt.Sprintf("%s: node %d health", name, i+1), math.NaN(), "").note(l)
	}
}

// setAllDelays sets the one-way delay of every link between two nodes.
func (r *routeRelays) setAllDelays(d time.Duration) {
	for i := range r.n {
		for j := i + 1; j < r.n; j++ {
			r.setDelay(i, j, d)
		}
	}
}

// renewals sums the nodes' lease renewals that succeeded and failed.
func (c *labCluster) renewals() (ok, failed float64) {
	for _, t := range c.nodes {
		a, _ := scrapeSeries(t.MetricsURL, renewalsTotal("ok"))
		b, _ := scrapeSeries(t.MetricsURL, renewalsTotal("failed"))
		ok, failed = ok+a, failed+b
	}
	return ok, failed
}

// holdRenewals holds the current fault for hold and adds the row of the
// lease renewals the nodes made meanwhile: what the fault does to them
// shows there before any probe.
func (ph *faultPhase) holdRenewals(ctx context.Context, name string, hold time.Duration) error {
	ok0, f0 := ph.c.renewals()
	if err := sleep(ctx, hold); err != nil {
		return err
	}
	ok1, f1 := ph.c.renewals()
	ph.r.add(name+", lease renewals ok / failed", ok1-ok0, "renewals").
		note(fmt.Sprintf("%.0f failed in the %s held before the probes, over the three nodes", f1-f0, hold))
	return nil
}
