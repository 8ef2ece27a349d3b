package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// After the kill: how the survivors' /readyz fares.

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
