package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/nodeproc"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// crashResult is what the crash phase saw: the killed node's peers' LEFT
// events in the surviving views, ghosts, and the survivors' readiness.
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

// viewMember is one member shown in one view.
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
		if nodeproc.Ready(ctx, readyURL(n)) {
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

// report adds the crash's rows: the killed node's peers, their LEFT events
// in the surviving views, ghosts, and how the survivors' readiness fared.
func (cr *crashResult) report(r *Report, killed, survivors int, ghostWait time.Duration) {
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
		note(fmt.Sprintf("killed-node peers still in a surviving view %s after the kill (%d views)", ghostWait, cr.ghostViews)).
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
			note(fmt.Sprintf("of %d: %s at some point after the kill", survivors, row.what))
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
	r.add("survivors ready after crash", float64(cr.ready), "nodes").note(fmt.Sprintf("of %d, at the end", survivors))
	r.add("cluster nodes seen after crash, max over survivors", cr.nodesSeen, "nodes")
}
