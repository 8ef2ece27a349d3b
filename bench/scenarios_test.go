package bench

import (
	"testing"
	"time"
)

func TestChurnTimesJoinAndLeaveEventsWithoutOverflow(t *testing.T) {
	tg := startNode(t)
	r, err := Churn(runCtx(t, 40*time.Second), tg, ChurnOptions{
		Peers: 20, NSSize: 10, Rate: 5, Duration: 2 * time.Second, Concurrency: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if figure(t, r, "leaves").Value == 0 || figure(t, r, "joins").Value == 0 {
		t.Fatalf("no churn happened: leaves=%v joins=%v", figure(t, r, "leaves").Value, figure(t, r, "joins").Value)
	}
	if f := figure(t, r, "joins failed"); f.Value != 0 {
		t.Errorf("joins failed = %v (%s)", f.Value, f.Note)
	}
	// Every leaver was shown to the other members of its namespace, and every
	// joiner is shown to them: both kinds of event must have been timed.
	if figure(t, r, "JOINED events timed").Value == 0 || figure(t, r, "LEFT events timed").Value == 0 {
		t.Errorf("events not timed: JOINED %v, LEFT %v", figure(t, r, "JOINED events timed").Value, figure(t, r, "LEFT events timed").Value)
	}
	if got := figure(t, r, "OVERFLOW closes").Value; got != 0 {
		t.Errorf("OVERFLOW closes = %v, want 0", got)
	}
	// After the churn the node holds exactly the live peers and every view
	// shows exactly its live namespace.
	for _, name := range []string{"ghosts", "lost events"} {
		if f := figure(t, r, name); f.Value != 0 || f.Met == nil || !*f.Met {
			t.Errorf("%s = %v (%s), want 0", name, f.Value, f.Note)
		}
	}
}

func TestRelayMeasuresDirectAndRelayedThroughput(t *testing.T) {
	tg := startNode(t)
	r, err := Relay(runCtx(t, 40*time.Second), tg, RelayOptions{Pairs: []int{1, 2}, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"direct, 1 pairs", "relayed, 1 pairs", "direct, 2 pairs", "relayed, 2 pairs"} {
		if v := figure(t, r, name).Value; !(v > 0) {
			t.Errorf("%s = %v MiB/s, want bytes to have crossed", name, v)
		}
	}
}

func TestRendezvousCountsRegisterAndDiscoverWithoutErrors(t *testing.T) {
	tg := startNode(t)
	r, err := Rendezvous(runCtx(t, 40*time.Second), tg, RendezvousOptions{Clients: 4, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"REGISTER", "DISCOVER"} {
		if v := figure(t, r, op+" ops/s").Value; !(v > 0) {
			t.Errorf("%s ops/s = %v", op, v)
		}
		if f := figure(t, r, op+" errors"); f.Value != 0 {
			t.Errorf("%s errors = %v (%s)", op, f.Value, f.Note)
		}
	}
}

func TestLegacyHoldsOldClientsAndTimesSeenByAll(t *testing.T) {
	tg := startNode(t)
	// More held peers than one source address may hold (legacyPerIP), so
	// that the spreading over loopback addresses is exercised too.
	r, err := Legacy(runCtx(t, 60*time.Second), tg, LegacyOptions{
		Peers: 80, Probes: 5, Idle: 300 * time.Millisecond, Concurrency: 8, StepTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := figure(t, r, "peers held").Value; got != 80 {
		t.Fatalf("peers held = %v (failed: %s), want 80", got, figure(t, r, "peers failed").Note)
	}
	if v := figure(t, r, "join rate").Value; !(v > 0) {
		t.Errorf("join rate = %v", v)
	}
	if v := figure(t, r, "seen-by-all p99").Value; !(v > 0) {
		t.Errorf("seen-by-all p99 = %v, want measured", v)
	}
	for _, name := range []string{"probes incomplete", "held peers missing from a probe's list", "held peers closed by the node", "legacy members after the idle window"} {
		if f := figure(t, r, name); f.Met == nil || !*f.Met {
			t.Errorf("%s = %v (%s), want %s", name, f.Value, f.Note, f.Target)
		}
	}
}
