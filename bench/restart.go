package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// RestartOptions sizes the restart scenario.
type RestartOptions struct {
	Peers  int
	NSSize int
	// Kill ends the node with SIGKILL, as a crash would, instead of SIGTERM.
	Kill        bool
	Concurrency int
	Keys        string
	// Within bounds each wait for the population to be whole (default 2 min).
	Within time.Duration
	// Progress receives the phases as they run; nil reports none.
	Progress *Progress
}

func (o *RestartOptions) defaults() {
	if o.Peers <= 0 {
		o.Peers = 1000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Within <= 0 {
		o.Within = 2 * time.Minute
	}
}

// restartMember is one peer kept joined by a wsstar.Member, with its
// default reconnect backoff, as an application would run it.
type restartMember struct {
	h        host.Host
	m        *wsstar.Member
	conns    atomic.Int32 // connections made (Reconnected messages)
	shutdown atomic.Bool  // the node closed its view with SHUTDOWN
	back     atomic.Int64 // Unix ns of its first reconnect after the restart
}

func (rm *restartMember) consume(wg *sync.WaitGroup) {
	defer wg.Done()
	for msg := range rm.m.C() {
		switch msg := msg.(type) {
		case *wsstar.Reconnected:
			if rm.conns.Add(1) == 2 {
				rm.back.Store(time.Now().UnixNano())
			}
		case *wsstar.Closed:
			if msg.Reason == pb.Closed_SHUTDOWN {
				rm.shutdown.Store(true)
			}
		}
	}
}

// Restart holds o.Peers members (each a relay reservation and an announced
// join, kept by wsstar.Member), stops the node (SIGTERM, or SIGKILL with
// o.Kill), starts it again with the same identity and address, and times
// how long the population takes to be whole again. It needs a node the
// tool started from a binary.
func Restart(ctx context.Context, t *Target, o RestartOptions) (*Report, error) {
	o.defaults()
	if t.relaunch == nil {
		return nil, errors.New("bench: restart needs a node the tool starts from --node-bin")
	}
	sig := "SIGTERM"
	if o.Kill {
		sig = "SIGKILL"
	}
	r := newReport("restart", t.Kind, map[string]any{
		"peers": o.Peers, "ns_size": o.NSSize, "signal": sig, "concurrency": o.Concurrency,
	})
	keys, err := Keys(o.Keys, o.Peers)
	if err != nil {
		return nil, err
	}

	var consumers sync.WaitGroup
	members := make([]*restartMember, len(keys))
	var startErr atomic.Value
	rp := o.Progress.Count("members", len(keys), "peers")
	forEach(len(keys), o.Concurrency, func(i int) {
		h, err := NewPeer(keys[i], false)
		if err != nil {
			startErr.CompareAndSwap(nil, err)
			rp.Fail()
			return
		}
		m, err := wsstar.NewMember(h, t.Info, []string{nsName(i, o.NSSize)}, wsstar.WithReservation())
		if err != nil {
			_ = h.Close()
			startErr.CompareAndSwap(nil, err)
			rp.Fail()
			return
		}
		rm := &restartMember{h: h, m: m}
		members[i] = rm
		consumers.Add(1)
		go rm.consume(&consumers)
		rp.Add(1)
	})
	rp.Done()
	defer func() {
		cp := o.Progress.Count("closing", len(members), "peers")
		forEach(len(members), o.Concurrency, func(i int) {
			if rm := members[i]; rm != nil {
				_ = rm.m.Close()
				_ = rm.h.Close()
			}
			cp.Add(1)
		})
		consumers.Wait()
		cp.Done()
	}()
	if v := startErr.Load(); v != nil {
		return nil, fmt.Errorf("bench: starting members: %w", v.(error))
	}
	connected := func(n int32) int {
		c := 0
		for _, rm := range members {
			if rm.conns.Load() >= n {
				c++
			}
		}
		return c
	}
	up, _ := waitFor(ctx, o.Within, len(members), o.Progress.Count("joined", len(members), "peers"), func() int { return connected(1) })
	r.add("members joined before", float64(up), "peers")
	if up < len(members) {
		return r, fmt.Errorf("bench: only %d of %d members joined within %s", up, len(members), o.Within)
	}
	r.add("registrations before", gauge(t.MetricsURL, "rendezvous_registrations"), "members")

	t0 := time.Now()
	var stopErr error
	if o.Kill {
		stopErr = t.Kill()
	} else {
		stopErr = t.Close()
	}
	stopped := time.Since(t0)
	f := r.addMs("node stop ("+sig+" to exit)", stopped)
	if !o.Kill {
		f.target("≤ shutdown_timeout (10 s)", 10_000, true)
	}
	if stopErr != nil {
		f.note(oneLine(stopErr))
	}
	shut := 0
	for _, rm := range members {
		if rm.shutdown.Load() {
			shut++
		}
	}
	sf := r.add("views closed with SHUTDOWN", float64(shut), "views")
	if !o.Kill {
		sf.target(fmt.Sprintf("all %d", len(members)), float64(len(members)), false)
	}

	t1 := time.Now()
	nt, err := t.relaunch(ctx)
	if err != nil {
		return r, fmt.Errorf("bench: restarting the node: %w", err)
	}
	defer func() { _ = nt.Close() }()
	r.addMs("node start (to its address printed)", time.Since(t1))
	if nt.Info.ID != t.Info.ID {
		return r, fmt.Errorf("bench: restarted node is %s, was %s", nt.Info.ID, t.Info.ID)
	}

	back, waited := waitFor(ctx, o.Within, len(members), o.Progress.Count("rejoined", len(members), "peers"), func() int { return connected(2) })
	var rejoin Latencies
	for _, rm := range members {
		if ns := rm.back.Load(); ns != 0 {
			rejoin.Add(time.Unix(0, ns).Sub(t1))
		}
	}
	r.add("members rejoined", float64(back), "peers").
		target(fmt.Sprintf("all %d", len(members)), float64(len(members)), false)
	wf := r.addMs("population whole again (from node start)", waited)
	if back < len(members) {
		wf.Value = math.NaN()
		wf.note(fmt.Sprintf("not whole within %s", o.Within))
	}
	p50, _ := r.addQuantiles("member rejoin (from node start)", &rejoin)
	p50.note("each member's backoff: jittered, 0.5 s growing to 30 s")
	r.add("registrations after", gauge(nt.MetricsURL, "rendezvous_registrations"), "members").
		target(fmt.Sprintf("≤ %d (no ghosts)", len(members)), float64(len(members)), true)
	if n1, err := sample(nt.Node); err == nil {
		r.add("restarted node RSS", float64(n1.RSS)/(1<<20), "MiB")
	}
	return r.finish(), nil
}

// waitFor polls count every 100 ms until it reaches total or
// within has passed, showing it on task; it returns the last count and the
// time it took.
func waitFor(ctx context.Context, within time.Duration, total int, task *Task, count func() int) (int, time.Duration) {
	t0 := time.Now()
	defer task.Done()
	shown := 0
	for {
		n := count()
		task.Add(n - shown)
		shown = n
		if n >= total || time.Since(t0) >= within || sleep(ctx, 100*time.Millisecond) != nil {
			return n, time.Since(t0)
		}
	}
}

// gauge scrapes one metric, NaN when it cannot be read.
func gauge(url, name string) float64 {
	if url == "" {
		return math.NaN()
	}
	v, err := scrapeGauge(url, name)
	if err != nil {
		return math.NaN()
	}
	return v
}
