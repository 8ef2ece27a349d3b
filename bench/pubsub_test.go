package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// startPubsubNodes starts a fresh node in this process for each part of a
// pubsub run, announcing every interval.
func startPubsubNodes(t *testing.T, interval time.Duration) func(context.Context, string) (*Target, error) {
	return func(ctx context.Context, part string) (*Target, error) {
		return StartTarget(ctx, TargetOptions{Dir: t.TempDir(), Configure: PubsubConfig(interval)})
	}
}

// met fails the test when a figure's target is not met.
func met(t *testing.T, r *Report, name string) Figure {
	t.Helper()
	f := figure(t, r, name)
	if f.Met == nil || !*f.Met {
		t.Errorf("%s = %v, target %s (%s)", name, f.Value, f.Target, f.Note)
	}
	return f
}

func TestPubsubSubscribersLearnEveryOtherWithinTwoIntervals(t *testing.T) {
	// The node announces every second; the apps every two (the node takes
	// one a second from each).
	const n, interval = 12, time.Second
	r, err := Pubsub(runCtx(t, 60*time.Second), PubsubOptions{
		Peers: n, Interval: 2 * interval, AnnounceInterval: interval, Windows: 3, Probes: 2,
		PingEvery: 200 * time.Millisecond, Concurrency: 8, Compare: true,
		Start: startPubsubNodes(t, interval),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := figure(t, r, "subscribers connected").Value; got != n {
		t.Fatalf("subscribers connected = %v, want %d (%s)", got, n, figure(t, r, "subscribers failed").Note)
	}
	for _, name := range []string{
		"node subscribers", "node pubsub members",
		"learned within 2 intervals min", "newcomers: learned within 2 intervals min", "newcomers up",
		"announcements received per subscriber per interval, max", "node announcements published per interval",
		"announcements with other addresses than announced", "announcements of unknown or undecodable keys",
	} {
		met(t, r, name)
	}
	// A rate: reported, not asserted (a loaded machine falls behind it).
	figure(t, r, "apps' announcements accepted")
	// A topic of 12 is learned in full: nobody is left to learn.
	if f := figure(t, r, "new peers in the last interval, min"); f.Target != "" {
		t.Errorf("a topic of %d still has peers to learn after the window: %s", n, f.Note)
	}
	// The apps announced themselves every interval, and the node counted it.
	if _, ok := r.Figure("apps' messages counted over_rate"); ok {
		t.Error("apps announcing every 2 s were counted over the rate")
	}
	if f := figure(t, r, "ping streams, window"); f.Value < 10 {
		t.Errorf("ping streams %v/s, want about 60 (%s)", f.Value, f.Note)
	}
	if f := figure(t, r, "ws-star members connected"); f.Value != n {
		t.Errorf("ws-star comparison: %v members connected, want %d", f.Value, n)
	}
	if f := figure(t, r, "node CPU per 1,000: pubsub / ws-star"); !(f.Value > 0) {
		t.Errorf("no CPU ratio: %v", f.Value)
	}
	var b strings.Builder
	_ = r.WriteTable(&b)
	t.Log("\n" + b.String())
}
