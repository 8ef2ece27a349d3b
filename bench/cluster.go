package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/promtext"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
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
	r.add("killed-node peers", float64(cr.victims), "peers").note(fmt.Sprintf("connected to node %d, killed with SIGKILL", killed+1))
	r.add("crash LEFT views expected", float64(cr.pairs), "views").note("surviving views that showed a killed-node peer")
	r.add("crash LEFT views seen", float64(cr.seen), "views")
	r.add("killed-node peers LEFT everywhere", float64(cr.lat.Len()), "peers")
	cp50, _ := r.addQuantiles("crash-to-LEFT", &cr.lat)
	cp50.note("SIGKILL until the last surviving view shows the LEFT")
	if cr.lat.Len() > 0 {
		r.addMs("crash-to-LEFT max", cr.lat.Quantile(1))
	}
	r.add("crash LEFT reason not DISCONNECTED", float64(cr.otherReason), "views").note(cr.reasons)
	r.add("crash views dropped without LEFT", float64(cr.silent), "views").note("member gone from the view by a snapshot or a closed view")
	r.add("killed-node peers shown again after LEFT", float64(cr.rejoined), "events")
	r.add("ghosts", float64(cr.ghosts), "peers").
		note(fmt.Sprintf("killed-node peers still in a surviving view %s after the kill (%d views)", o.GhostWait, cr.ghostViews)).
		target("0", 0, true)
	for _, row := range []struct {
		name, what, back string
		c                int
		again            time.Duration
	}{
		{"survivors degraded after crash", `/readyz said status "degraded"`, "crash to survivors in sync again", cr.health.count, cr.health.again},
		{"survivors not ready after crash", "/readyz answered other than 200", "crash to survivors ready again", cr.ready200.count, cr.ready200.again},
	} {
		r.add(row.name, float64(row.c), "nodes").
			note(fmt.Sprintf("of %d: %s at some point after the kill", len(nodes)-1, row.what))
		f := r.add(row.back, row.again.Seconds(), "s")
		switch {
		case row.c == 0:
			f.note("none")
		case row.again < 0:
			f.Value = math.NaN()
			f.note(fmt.Sprintf("not all back within %s of the kill", cr.readyWatch.Round(time.Second)))
		default:
			f.note("from the kill until the last of them was back")
		}
	}
	r.add("survivors ready after crash", float64(cr.ready), "nodes").note(fmt.Sprintf("of %d, at the end", len(nodes)-1))
	r.add("cluster nodes seen after crash, max over survivors", cr.nodesSeen, "nodes")

	r.add("OVERFLOW closes", float64(s.overflows.Load()), "views")

	progress("stopping the cluster")
	closePeers()
	stopNodes()

	if o.Baseline {
		progress("baseline: one node without cluster, %d peers", perNode)
		dir := filepath.Join(o.Dir, "single")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		t, err := startProcess(ctx, o.Binary, BenchConfig(dir, ""), dir, o.NodeLog)
		if err != nil {
			return nil, fmt.Errorf("bench: baseline node: %w", err)
		}
		single := o.CapacityOptions
		single.Peers = perNode
		single.Progress = o.Progress.With("baseline")
		br, err := Capacity(ctx, t, single)
		if cerr := t.Close(); cerr != nil {
			progress("stopping the baseline node: %v", cerr)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: baseline: %w", err)
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
	}
	return r.finish(), nil
}

// startClusterNodes starts n nodes of one embedded cluster, each in its own
// directory under dir, on free loopback ports.
func startClusterNodes(ctx context.Context, bin, dir string, n int, log io.Writer) ([]*Target, error) {
	ports, err := freeLoopbackAddrs(n)
	if err != nil {
		return nil, err
	}
	nodes := make([]*Target, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
			if errs[i] = os.MkdirAll(d, 0o700); errs[i] != nil {
				return
			}
			cfg := BenchConfig(d, "")
			cfg.Cluster.Embedded.Listen = ports[i]
			for j, p := range ports {
				if j != i {
					cfg.Cluster.Embedded.Routes = append(cfg.Cluster.Embedded.Routes, p)
				}
			}
			nodes[i], errs[i] = startProcess(ctx, bin, cfg, d, log)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("node %d: %w", i+1, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, t := range nodes {
			if t != nil {
				_ = t.Close()
			}
		}
		return nil, err
	}
	return nodes, nil
}

// freeLoopbackAddrs returns n loopback host:port addresses free a moment ago.
func freeLoopbackAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// closeTargets stops the nodes at once (each takes up to its SIGTERM grace).
func closeTargets(nodes []*Target, log *Progress) {
	var wg sync.WaitGroup
	for i, t := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.Close(); err != nil {
				log.Logf("stopping node %d: %v", i+1, err)
			}
		}()
	}
	wg.Wait()
}

func readyURL(t *Target) string {
	return strings.TrimSuffix(t.MetricsURL, "/metrics") + "/readyz"
}

// waitReady waits until every node's /readyz answers 200.
func waitReady(ctx context.Context, nodes []*Target, timeout time.Duration) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.proc.WaitReady(ctx, timeout) })
	}
	wg.Wait()
	var not []string
	for i, err := range errs {
		if err != nil {
			not = append(not, strconv.Itoa(i+1))
		}
	}
	if len(not) > 0 {
		return fmt.Errorf("bench: cluster nodes %s not ready (/readyz) within %s: %w", strings.Join(not, ", "), timeout, errors.Join(errs...))
	}
	return nil
}

// httpStatus is the status of GET url, 0 when there is no answer.
func httpStatus(ctx context.Context, url string) int {
	code, _ := readyStatus(ctx, url)
	return code
}

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

// peersPerNode counts the live peers connected to each node.
func (s *swarm) peersPerNode() map[peer.ID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[peer.ID]int)
	for _, set := range s.byNS {
		for p := range set {
			out[p.node]++
		}
	}
	return out
}

// converge waits until every view shows all other members of its namespace
// (up to its size) and returns how long that took and, on timeout, how many
// views were still short.
func (s *swarm) converge(ctx context.Context, timeout time.Duration) (time.Duration, int) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		short := s.shortViews()
		if short == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), short
		}
		_ = sleep(ctx, 50*time.Millisecond)
	}
}

func (s *swarm) shortViews() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	short := 0
	for _, set := range s.byNS {
		for p := range set {
			p.mu.Lock()
			if !p.ended && p.view.Len() < min(p.max, len(set)-1) {
				short++
			}
			p.mu.Unlock()
		}
	}
	return short
}

// stillShown counts the views that show any of ids.
func (s *swarm) stillShown(ids map[peer.ID]struct{}) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.byNS {
		for w := range set {
			w.mu.Lock()
			for id := range ids {
				if !w.ended && w.view.Has(id) {
					n++
				}
			}
			w.mu.Unlock()
		}
	}
	return n
}

type crashResult struct {
	killErr              error
	victims, pairs, seen int
	otherReason, silent  int
	rejoined             int
	ghosts, ghostViews   int
	ready                int
	health, ready200     backAfter
	readyWatch           time.Duration
	nodesSeen            float64
	reasons              string
	lat                  Latencies // per victim: kill to its LEFT in the last surviving view
}

type viewMember struct {
	w *livePeer
	p peer.ID
}

// crash kills nodes[k] with SIGKILL and follows, in the views on the other
// nodes, the LEFT events of the peers that were connected to it, for wait.
func (s *swarm) crash(ctx context.Context, nodes []*Target, k int, wait time.Duration, prog *Progress) *crashResult {
	progress := prog.Logf
	t := nodes[k]
	cr := &crashResult{nodesSeen: math.NaN()}
	dead := t.Info.ID
	victims := make(map[peer.ID]*livePeer)
	pending := make(map[viewMember]struct{})
	remaining := make(map[peer.ID]int)
	reasons := make(map[pb.LeftReason]int)
	allLeft := make(chan struct{})
	var t0 time.Time

	s.mu.Lock()
	for _, set := range s.byNS {
		for p := range set {
			if p.node == dead {
				victims[p.id] = p
			}
		}
	}
	for id, v := range victims {
		for w := range s.byNS[v.ns] {
			if w.node == dead {
				continue
			}
			if w.shows(id) {
				pending[viewMember{w, id}] = struct{}{}
				remaining[id]++
			}
		}
	}
	cr.victims, cr.pairs = len(victims), len(pending)
	if len(pending) == 0 {
		close(allLeft)
	}
	s.observe = func(w *livePeer, e seen, now time.Time) {
		if _, ok := victims[e.p]; !ok || w.node == dead {
			return
		}
		k := viewMember{w, e.p}
		if !e.left {
			cr.rejoined++
			return
		}
		if _, ok := pending[k]; !ok {
			return
		}
		delete(pending, k)
		cr.seen++
		if e.reason != pb.LeftReason_DISCONNECTED {
			cr.otherReason++
			reasons[e.reason]++
		}
		if remaining[e.p]--; remaining[e.p] == 0 {
			cr.lat.Add(now.Sub(t0))
		}
		if len(pending) == 0 {
			close(allLeft)
		}
	}
	progress("killing node %d (%s) with SIGKILL: %d peers on it, %d surviving views to update", k+1, dead, cr.victims, cr.pairs)
	wt := prog.Window("until the ghost check", wait, "") // before t0: the check is at t0+wait
	t0 = time.Now()
	defer wt.Done()
	s.mu.Unlock()
	cr.killErr = t.Kill()
	if cr.killErr != nil {
		s.mu.Lock()
		s.observe = nil
		s.mu.Unlock()
		return cr
	}

	var survivors []*Target
	for i, n := range nodes {
		if i != k {
			survivors = append(survivors, n)
		}
	}
	rw := newReadyWatch(ctx, survivors, t0)

	select {
	case <-allLeft:
		progress("every LEFT seen %.2f s after the kill", time.Since(t0).Seconds())
	case <-time.After(wait):
	case <-ctx.Done():
	}
	// The ghost check is at a fixed time after the kill: a member that left
	// and came back must be counted too.
	_ = sleep(ctx, time.Until(t0.Add(wait)))
	wt.Done()

	s.mu.Lock()
	s.observe = nil
	for k := range pending {
		if !k.w.shows(k.p) {
			cr.silent++
		}
	}
	ghosts := make(map[peer.ID]struct{})
	for id, v := range victims {
		for w := range s.byNS[v.ns] {
			if w.node == dead {
				continue
			}
			if w.shows(id) {
				cr.ghostViews++
				ghosts[id] = struct{}{}
			}
		}
	}
	cr.ghosts = len(ghosts)
	var rs []string
	for reason, n := range reasons {
		rs = append(rs, fmt.Sprintf("%s: %d", reason, n))
	}
	cr.reasons = strings.Join(rs, ", ")
	s.mu.Unlock()

	// A survivor still degraded is given up to survivorGrace more.
	cr.readyWatch = wait + survivorGrace
	if !rw.allBack() {
		progress("waiting up to %s for the degraded survivors", survivorGrace)
	}
	cr.health, cr.ready200 = rw.stop(t0.Add(cr.readyWatch))
	for _, n := range survivors {
		if httpStatus(ctx, readyURL(n)) == http.StatusOK {
			cr.ready++
		}
		if v, err := scrapeGauge(n.MetricsURL, "rendezvous_cluster_nodes"); err == nil && (math.IsNaN(cr.nodesSeen) || v > cr.nodesSeen) {
			cr.nodesSeen = v
		}
	}
	progress("%d of %d surviving views got the LEFT; %d ghosts after %s", cr.seen, cr.pairs, cr.ghosts, wait)
	return cr
}

// survivorGrace is how long after the ghost check a degraded survivor may
// take to be back.
const survivorGrace = 30 * time.Second

// backAfter is how many nodes were down at some point after a kill, and the
// time from the kill until the last of them was back (-1: one was not).
type backAfter struct {
	count int
	again time.Duration
}

// upTracker follows one yes/no property of each node over time.
type upTracker struct {
	down []bool      // ever seen false
	up   []bool      // at the last poll
	back []time.Time // last turn to true after a false
}

func newUpTracker(n int) upTracker {
	return upTracker{down: make([]bool, n), up: make([]bool, n), back: make([]time.Time, n)}
}

func (u *upTracker) set(i int, ok bool, now time.Time) {
	if !ok {
		u.down[i] = true
	} else if u.down[i] && !u.up[i] {
		u.back[i] = now
	}
	u.up[i] = ok
}

func (u *upTracker) allUp() bool {
	for _, ok := range u.up {
		if !ok {
			return false
		}
	}
	return true
}

func (u *upTracker) result(t0 time.Time) backAfter {
	var b backAfter
	for i, d := range u.down {
		if !d {
			continue
		}
		b.count++
		if !u.up[i] {
			b.again = -1
		} else if b.again >= 0 {
			b.again = max(b.again, u.back[i].Sub(t0))
		}
	}
	return b
}

// readyWatch polls the nodes' /readyz from a kill on: its status code (200
// or not) and the status it reports ("ok", or "degraded" while the node's
// copy is not in sync, which /readyz may still answer with 200 for a grace
// period).
type readyWatch struct {
	t0      time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	changed chan struct{}

	mu           sync.Mutex
	health, code upTracker
}

func newReadyWatch(ctx context.Context, nodes []*Target, t0 time.Time) *readyWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &readyWatch{
		t0: t0, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{}, 1),
		health: newUpTracker(len(nodes)), code: newUpTracker(len(nodes)),
	}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			for i, n := range nodes {
				code, status := readyStatus(ctx, readyURL(n))
				if ctx.Err() != nil {
					return
				}
				now := time.Now()
				w.mu.Lock()
				w.code.set(i, code == http.StatusOK, now)
				w.health.set(i, status == "ok", now)
				w.mu.Unlock()
			}
			select {
			case w.changed <- struct{}{}:
			default:
			}
			_ = sleep(ctx, 250*time.Millisecond)
		}
	}()
	return w
}

func (w *readyWatch) allBack() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.health.allUp() && w.code.allUp()
}

// stop waits until every node is back or deadline, then stops polling.
func (w *readyWatch) stop(deadline time.Time) (health, code backAfter) {
	defer func() { w.cancel(); <-w.done }()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
wait:
	for !w.allBack() {
		select {
		case <-w.changed:
		case <-timer.C:
			break wait
		case <-w.done:
			break wait
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.health.result(w.t0), w.code.result(w.t0)
}

// readyStatus is the status code of GET url and the "status" of its JSON
// body (0 and "" when there is no answer).
func readyStatus(ctx context.Context, url string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, ""
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
	return resp.StatusCode, body.Status
}
