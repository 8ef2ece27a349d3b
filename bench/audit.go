package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// audit compares what the views show with who is really there once the
// events have had time to arrive.
type audit struct {
	// stale counts (view, member) pairs where an open view shows a peer
	// that is no longer in its namespace: a LEFT that never came.
	stale int
	// missing counts pairs where an open view with room lacks a live peer
	// of its namespace: a JOINED that never came.
	missing int
	// views is the number of open views checked; closed counts the views
	// the node ended (OVERFLOW, shutdown), which show nothing.
	views, closed int
}

func (a audit) lost() int { return a.stale + a.missing }

// audit checks every live peer's view against the swarm's live peers.
func (s *swarm) audit() audit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a audit
	for _, set := range s.byNS {
		live := make(map[peer.ID]struct{}, len(set))
		for p := range set {
			live[p.id] = struct{}{}
		}
		for w := range set {
			w.mu.Lock()
			if w.ended {
				a.closed++
				w.mu.Unlock()
				continue
			}
			a.views++
			for _, id := range w.view.Peers() {
				if _, ok := live[id]; !ok {
					a.stale++
				}
			}
			if w.view.Len() < w.max {
				for id := range live {
					if id != w.id && !w.view.Has(id) {
						a.missing++
					}
				}
			}
			w.mu.Unlock()
		}
	}
	return a
}

// settle audits until no event is lost or within has passed (a view may be
// one flush behind when the check starts), and says how long that took.
func (s *swarm) settle(ctx context.Context, within time.Duration) (audit, time.Duration) {
	t0 := time.Now()
	for {
		a := s.audit()
		if a.lost() == 0 || time.Since(t0) >= within || sleep(ctx, 250*time.Millisecond) != nil {
			return a, time.Since(t0)
		}
	}
}

// addAudit reports the end-of-run consistency: registry members the node
// still holds beyond the live peers (ghosts), and events the views missed.
func (r *Report) addAudit(t *Target, a audit, waited time.Duration, live int) {
	ghosts := math.NaN()
	note := "node exposes no metrics"
	if t.MetricsURL != "" {
		if n, err := scrapeGauge(t.MetricsURL, "rendezvous_registrations"); err == nil {
			ghosts = math.Max(n-float64(live), 0)
			note = "registry members (rendezvous_registrations) beyond the live announced peers"
		} else {
			note = oneLine(err)
		}
	}
	r.add("ghosts", ghosts, "members").target("0", 0, true).note(note)
	r.add("lost events", float64(a.lost()), "events").target("0", 0, true).
		note(fmtAudit(a, waited))
}

func fmtAudit(a audit, waited time.Duration) string {
	return fmt.Sprintf("LEFT never shown %d, JOINED never shown %d; %d open views, %d closed by the node; audited for %s (until 0, at most 10 s)",
		a.stale, a.missing, a.views, a.closed, waited.Round(100*time.Millisecond))
}
