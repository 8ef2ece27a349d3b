package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/netlab"
)

// Faults the cluster-faults scenario knows, in the order it runs them.
const (
	FaultPartition    = "partition"
	FaultStreamLeader = "stream-leader"
	FaultMetaLeader   = "meta-leader"
)

// AllFaults are the faults run by default; all-kill, which ends every
// peer, runs after the others' audit.
var AllFaults = []string{FaultPartition, FaultStreamLeader, FaultMetaLeader, FaultAllKill}

// FaultsOptions size the cluster-faults scenario.
type FaultsOptions struct {
	// Peers are spread over the three nodes round-robin, NSSize a
	// namespace, so that every namespace has members on every node.
	Peers, NSSize int
	// Rate is the churn over the whole cluster: peers per second that
	// leave, and new ones that join their namespace on the same node.
	Rate        float64
	Concurrency int
	StepTimeout time.Duration
	// Faults to run, a subset of AllFaults (default all), in that order.
	Faults []string
	// Partition is how long node 3 is cut off from nodes 1 and 2.
	Partition time.Duration
	// Recover bounds each wait for the cluster to agree again after a fault.
	Recover time.Duration
	// Binary is the rendezvous binary; Dir holds the nodes' files.
	Binary, Dir string
	// Configure, when set, changes every node's configuration.
	Configure func(*config.Config)
	// NodeLog receives the nodes' warnings and errors; nil is standard error.
	NodeLog  io.Writer
	Progress *Progress
}

func (o *FaultsOptions) defaults() {
	if o.Peers <= 0 {
		o.Peers = 300
	}
	if o.NSSize <= 0 {
		o.NSSize = 50
	}
	if o.Rate <= 0 {
		o.Rate = 5
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
	if len(o.Faults) == 0 {
		o.Faults = AllFaults
	}
	if o.Partition <= 0 {
		o.Partition = 60 * time.Second
	}
	if o.Recover <= 0 {
		o.Recover = 60 * time.Second
	}
	if o.NodeLog == nil {
		o.NodeLog = os.Stderr
	}
}

// minChurn is the least churn before the audit.
const minChurn = 5 * time.Second

// faultNodes is the size of the lab's cluster: the smallest with a majority
// that survives one node.
const faultNodes = 3

// ClusterFaults starts a three-node embedded cluster, each node in its own
// network namespace, ramps o.Peers peers over it from this process, keeps
// them churning on every node, and injects the faults one after another:
// each fault's rows say what the peers and the health endpoints saw, how
// long the cluster took to agree again, and whether anything was lost,
// left behind or announced twice.
func ClusterFaults(ctx context.Context, o FaultsOptions) (*Report, error) {
	o.defaults()
	switch {
	case o.Binary == "":
		return nil, errors.New("bench: the cluster-faults scenario starts its nodes from a binary (--node-bin)")
	case o.Dir == "":
		return nil, errors.New("bench: FaultsOptions.Dir is required")
	}
	relayed := slices.Contains(o.Faults, FaultLatency) || slices.Contains(o.Faults, FaultLoss)
	if relayed && slices.Contains(o.Faults, FaultPartition) {
		return nil, errors.New("bench: the latency and loss faults relay the routes and run without partition")
	}
	for _, f := range o.Faults {
		if !slices.Contains(AllFaults, f) && f != FaultLatency && f != FaultLoss {
			return nil, fmt.Errorf("bench: unknown fault %q (want %s, or %s, %s)", f, strings.Join(AllFaults, ", "), FaultLatency, FaultLoss)
		}
	}
	available := netlab.Available
	if slices.Contains(o.Faults, FaultLoss) {
		available = netlab.LossAvailable
	}
	if err := available(); err != nil {
		return nil, err
	}
	r := newReport("cluster-faults", "process", map[string]any{
		"nodes": faultNodes, "peers": o.Peers, "ns_size": o.NSSize, "rate": o.Rate,
		"faults": strings.Join(o.Faults, ","), "partition": o.Partition.String(),
	})
	progress := o.Progress.Logf

	progress("building the network and starting %d nodes", faultNodes)
	st := time.Now()
	c, err := startLabCluster(ctx, o.Binary, o.Dir, faultNodes, o.NodeLog, o.Configure, relayed)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if err := waitReady(ctx, c.nodes, o.Recover); err != nil {
		return nil, err
	}
	r.add("cluster start to all ready", time.Since(st).Seconds(), "s")
	r.Params["subnet"] = c.lab.Prefix().String()

	keys, err := Keys("", o.Peers)
	if err != nil {
		return nil, err
	}
	s := newSwarm(c.nodes[0].Info)
	ro := rampOptions{Concurrency: o.Concurrency, StepTimeout: o.StepTimeout, NSSize: o.NSSize, Progress: o.Progress,
		NodeOf: func(i int) peer.AddrInfo { return c.nodes[i%faultNodes].Info }}
	pop, err := rampUp(ctx, s, keys, ro)
	defer pop.close()
	if err != nil {
		return nil, err
	}
	pop.reportRamp(r)
	conv, short := s.converge(ctx, 30*time.Second)
	f := r.add("views complete after ramp", conv.Seconds(), "s")
	if short > 0 {
		f.Value = math.NaN()
		f.note(fmt.Sprintf("%d views still incomplete after 30 s", short))
	}

	progress("churning %.1f peers/s over the cluster", o.Rate)
	churnStart := time.Now()
	ch := c.churn(ctx, s, pop, o.Rate, o.Concurrency, o.StepTimeout)
	defer ch.stop()
	ph := &faultPhase{c: c, s: s, pop: pop, o: &o, r: r}
	for _, fault := range o.Faults {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var err error
		switch fault {
		case FaultPartition:
			err = ph.partition(ctx)
		case FaultStreamLeader, FaultMetaLeader:
			err = ph.leaderKill(ctx, fault)
		case FaultLatency:
			err = ph.latency(ctx)
		case FaultLoss:
			err = ph.loss(ctx)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", fault, err)
		}
	}

	// At least a few seconds of churn before the audit, with all-kill alone.
	if err := sleep(ctx, time.Until(churnStart.Add(minChurn))); err != nil {
		return nil, err
	}
	progress("stopping the churn and auditing")
	ch.stop()
	r.add("churn leaves", float64(ch.leaves.Load()), "peers")
	f = r.add("churn joins failed", float64(ch.failed.Load()), "peers")
	if err := s.FirstError(); err != nil {
		f.note("first: " + oneLine(err))
	}
	r.add("churn joins", float64(ch.joins.Load()), "peers")
	_ = sleep(ctx, time.Second) // the last events are a flush away
	took, a := s.agree(ctx, 10*time.Second)
	r.add("lost events", float64(a.lost()), "events").target("0", 0, true).note(fmtAudit(a, time.Duration(math.Max(took, 0)*float64(time.Second))))
	g, note := c.ghosts(pop.size())
	r.add("ghosts", g, "members").target("0", 0, true).note(note)
	r.add("duplicate JOINED", float64(s.dupJoined.Load()), "events").target("0", 0, true).
		note("JOINED for a member the view showed, over the whole run")
	r.add("duplicate LEFT", float64(s.dupLeft.Load()), "events").target("0", 0, true).
		note("LEFT for a member the view did not show, over the whole run")
	if slices.Contains(o.Faults, FaultAllKill) {
		if err := ph.allKill(ctx); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", FaultAllKill, err)
		}
	}
	return r.finish(), nil
}

// faultPhase is what every fault works on.
type faultPhase struct {
	c   *labCluster
	s   *swarm
	pop *population
	o   *FaultsOptions
	r   *Report
}

// probe joins a new peer to namespace i on node at and times it until the
// views with room on the nodes in watch show it, waiting at most within;
// it returns the time (-1: some view missed it, or none had room) and the
// views missed.
func (ph *faultPhase) probe(ctx context.Context, at int, watch []int, i int, within time.Duration) (time.Duration, int, error) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return 0, 0, err
	}
	ids := map[peer.ID]bool{}
	for _, w := range watch {
		ids[ph.c.nodes[w].Info.ID] = true
	}
	ns := nsName(i*ph.o.NSSize, ph.o.NSSize)
	lat, _, missing, err := ph.s.runProbeOn(ctx, ph.c.nodes[at].Info, k, ns, within,
		func(w *livePeer) bool { return ids[w.node] })
	return lat, missing, err
}

// probes runs n probes at node at watched on watch, one namespace each.
func (ph *faultPhase) probes(ctx context.Context, name string, at int, watch []int, n int) {
	var lat Latencies
	missed, failed := 0, 0
	for i := range n {
		d, m, err := ph.probe(ctx, at, watch, i%max(1, ph.o.Peers/ph.o.NSSize), 10*time.Second)
		switch {
		case err != nil:
			failed++
		case m > 0:
			missed += m
		default:
			lat.Add(d)
		}
	}
	ph.r.addQuantiles(name+" join-to-visible", &lat)
	f := ph.r.add(name+" probe views missed", float64(missed), "views").target("0", 0, true)
	if failed > 0 {
		f.note(fmt.Sprintf("%d probes of %d failed to join", failed, n))
	}
	ph.r.add(name+" probes failed", float64(failed), "probes").target("0", 0, true)
}

// partition cuts node 3 off from nodes 1 and 2 for o.Partition while every
// node keeps its peers, then heals.
func (ph *faultPhase) partition(ctx context.Context) error {
	c, r, o := ph.c, ph.r, ph.o
	minority, majority := []int{2}, []int{0, 1}
	o.Progress.Logf("partition: node 3 cut off from nodes 1 and 2 for %s", o.Partition)
	t0 := time.Now()
	hl := c.watchHealth(ctx, t0)
	defer hl.end()
	if err := c.lab.Partition(ctx, minority, majority); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			_ = c.lab.Heal(context.Background(), minority, majority)
		}
	}()
	// Past the lease and an election: each side has dropped the other's
	// live members by then.
	settle := min(o.Partition/2, 15*time.Second)
	if err := o.Progress.Sleep(ctx, "partition", settle); err != nil {
		return err
	}
	ph.probes(ctx, "partition: minority (node 3)", 2, minority, 5)
	ph.probes(ctx, "partition: majority (node 1 to 2)", 0, []int{1}, 5)
	if err := sleep(ctx, time.Until(t0.Add(o.Partition))); err != nil {
		return err
	}
	cut := c.acrossCut(ph.s, minority, majority) + c.acrossCut(ph.s, majority, minority)
	r.add("partition: members shown across the cut before the heal", float64(cut), "pairs").target("0", 0, true).
		note("views on one side showing a member connected to the other: each side drops the other's members after lease_ttl")
	o.Progress.Logf("partition: healing after %.1f s", time.Since(t0).Seconds())
	th := time.Now()
	if err := c.lab.Heal(ctx, minority, majority); err != nil {
		return err
	}
	healed = true
	took, a := ph.s.agree(ctx, o.Recover)
	f := r.add("partition: heal to views agree", took, "s").target(fmt.Sprintf("within %s", o.Recover), o.Recover.Seconds(), true)
	if math.IsNaN(took) {
		f.note(fmtAudit(a, o.Recover))
	} else {
		f.note("every open view on every node shows exactly the live members of its namespace (with churn running)")
	}
	ready := c.allReady(ctx, o.Recover)
	r.add("partition: heal to all nodes ready", ready, "s").target(fmt.Sprintf("within %s", o.Recover), o.Recover.Seconds(), true).
		note("every node's /readyz 200 and rendezvous_cluster_nodes 3")
	r.add("partition: length", th.Sub(t0).Seconds(), "s")
	for i, l := range hl.end() {
		r.add(fmt.Sprintf("partition: node %d health", i+1), math.NaN(), "").note(l + fmt.Sprintf(" (heal at %+.1f s)", th.Sub(t0).Seconds()))
	}
	return nil
}

// allReady waits until every node answers /readyz 200 and sees every node
// alive; it returns the time that took, NaN when within passed.
func (c *labCluster) allReady(ctx context.Context, within time.Duration) float64 {
	t0 := time.Now()
	for {
		ok := true
		for i, t := range c.nodes {
			if !c.isUp(i) || probeStatus(readyURL(t), false) != "200" {
				ok = false
				break
			}
			if n, err := scrapeGauge(t.MetricsURL, "rendezvous_cluster_nodes"); err != nil || int(n) != len(c.nodes) {
				ok = false
				break
			}
		}
		if ok {
			return time.Since(t0).Seconds()
		}
		if time.Since(t0) > within || sleep(ctx, 200*time.Millisecond) != nil {
			return math.NaN()
		}
	}
}

// leaderKill SIGKILLs the node that leads the bucket's stream (or
// JetStream's meta group), times the stall of cross-node joins on the two
// others, then starts it again.
func (ph *faultPhase) leaderKill(ctx context.Context, fault string) error {
	c, r, o := ph.c, ph.r, ph.o
	victim, err := c.anyStreamLeader(ctx)
	if err != nil {
		return fmt.Errorf("asking for the stream leader: %w", err)
	}
	meta := c.metaLeader()
	if fault == FaultMetaLeader {
		if meta < 0 {
			return errors.New("no node logged that it leads the meta group")
		}
		if victim == meta {
			// Move the stream's leader away, so that only the meta
			// group loses its leader.
			if err := c.stepDownStream(ctx, meta); err != nil {
				return err
			}
			if victim, err = c.anyStreamLeader(ctx); err != nil {
				return err
			}
		}
		victim, meta = meta, victim
	}
	if victim < 0 {
		return errors.New("no stream leader")
	}
	other := "stream leader"
	if fault == FaultStreamLeader {
		other = "meta leader"
	}
	name := fault + ":"
	r.add(name+" killed node", float64(victim+1), "").note(fmt.Sprintf("the %s was node %d", other, meta+1))
	hosted := math.NaN()
	if on, err := c.consumersOn(ctx); err == nil {
		hosted = float64(on[victim])
	}
	r.add(name+" watches hosted by the killed node", hosted, "consumers").
		note("the nodes' watches (ordered consumers) JetStream placed on the killed node's server, its own included if there")
	var survivors []int
	for i := range c.nodes {
		if i != victim {
			survivors = append(survivors, i)
		}
	}
	o.Progress.Logf("%s SIGKILL node %d", fault, victim+1)
	var m0deferred float64
	for _, i := range survivors {
		if v, err := scrapeSeries(c.nodes[i].MetricsURL, writesTotal("deferred")); err == nil {
			m0deferred += v
		}
	}
	t0 := time.Now()
	hl := c.watchHealth(ctx, t0)
	defer hl.end()
	if err := c.kill(victim); err != nil {
		return err
	}
	// Its peers lost their node: they are gone, as closed tabs are.
	dead := c.nodes[victim].Info.ID
	for _, p := range ph.pop.removeWhere(func(p *livePeer) bool { return p.node == dead }) {
		ph.s.stop(p, true)
	}

	// Cross-node joins between the survivors, one after the other, for
	// the window: each is visible within probeWait, or it is late.
	const window, probeWait = 30 * time.Second, 5 * time.Second
	// The views' agreement is polled beside the probes.
	agreeAt := make(chan time.Duration, 1)
	go func() {
		for {
			if ph.s.audit().lost() == 0 {
				agreeAt <- time.Since(t0)
				return
			}
			if time.Since(t0) > window || sleep(ctx, 100*time.Millisecond) != nil {
				agreeAt <- -1
				return
			}
		}
	}()
	var stall time.Duration = -1
	var lat Latencies
	late, failed, n := 0, 0, 0
	var lastLate time.Duration
	for time.Since(t0) < window && ctx.Err() == nil {
		if stall < 0 {
			if l, err := c.anyStreamLeader(ctx); err == nil && l >= 0 && l != victim {
				stall = time.Since(t0)
			}
		}
		d, missing, err := ph.probe(ctx, survivors[n%2], survivors[(n+1)%2:(n+1)%2+1], n%max(1, o.Peers/o.NSSize), probeWait)
		n++
		switch {
		case err != nil:
			failed++
		case missing > 0:
			late++
			lastLate = time.Since(t0)
		case d >= 0:
			lat.Add(d)
		}
	}
	f := r.add(name+" kill to new stream leader", stall.Seconds(), "s")
	if stall < 0 {
		f.Value = math.NaN()
		f.note(fmt.Sprintf("none within %s", window))
	}
	r.addQuantiles(name+" cross-node join-to-visible after the kill", &lat)
	r.add(name+" cross-node joins late", float64(late), "probes").
		note(fmt.Sprintf("of %d probes on the survivors in the %s after the kill, not visible on the other survivor within %s", n, window, probeWait))
	r.add(name+" last late join", lastLate.Seconds(), "s").note("from the kill to the start of the last late probe's wait; 0: none late")
	r.add(name+" probes failed", float64(failed), "probes").target("0", 0, true)
	var deferred float64
	for _, i := range survivors {
		if v, err := scrapeSeries(c.nodes[i].MetricsURL, writesTotal("deferred")); err == nil {
			deferred += v
		}
	}
	r.add(name+" writes deferred", deferred-m0deferred, "writes").
		note("writes the survivors applied locally and sent to JetStream later")
	agreed, a := <-agreeAt, ph.s.audit()
	f = r.add(name+" kill to survivors' views agree", agreed.Seconds(), "s").
		note("until every open view showed exactly the live members of its namespace, the killed node's peers gone (with churn running)")
	if agreed < 0 {
		f.Value = math.NaN()
		f.note(fmtAudit(a, window))
	}

	o.Progress.Logf("%s starting node %d again", fault, victim+1)
	tr := time.Now()
	if err := c.start(ctx, victim); err != nil {
		return err
	}
	if err := c.nodes[victim].proc.WaitReady(ctx, o.Recover); err != nil {
		return err
	}
	r.add(name+" restart to ready", time.Since(tr).Seconds(), "s")
	took, a := ph.s.agree(ctx, o.Recover)
	f = r.add(name+" restart to views agree", time.Since(tr).Seconds(), "s").
		note("every open view on every node shows exactly the live members of its namespace (with churn running)")
	if math.IsNaN(took) {
		f.Value = math.NaN()
		f.note(fmtAudit(a, o.Recover))
	}
	var ready float64
	if math.IsNaN(c.allReady(ctx, o.Recover)) {
		ready = math.NaN()
	} else {
		ready = time.Since(tr).Seconds()
	}
	r.add(name+" restart to all nodes ready", ready, "s").note("every node's /readyz 200 and rendezvous_cluster_nodes 3")
	for i, l := range hl.end() {
		r.add(fmt.Sprintf("%s node %d health", name, i+1), math.NaN(), "").note(l)
	}
	return nil
}
