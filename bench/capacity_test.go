package bench

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestCapacityEveryProbeReachesEveryViewWithRoom(t *testing.T) {
	tg := startNode(t)
	r, err := Capacity(runCtx(t, 40*time.Second), tg, CapacityOptions{
		Peers: 20, NSSize: 10, Probes: 3, Idle: 300 * time.Millisecond, Concurrency: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := figure(t, r, "peers connected").Value; got != 20 {
		t.Fatalf("peers connected = %v, want 20 (first error: %s)", got, figure(t, r, "peers failed").Note)
	}
	// Three probes into namespaces of ten: each must reach the ten views.
	if got := figure(t, r, "probe views expected").Value; got != 30 {
		t.Errorf("probe views expected = %v, want 30", got)
	}
	if got := figure(t, r, "probe views missed").Value; got != 0 {
		t.Errorf("probe views missed = %v, want 0", got)
	}
	if p99 := figure(t, r, "join-to-visible p99"); p99.Value <= 0 {
		t.Errorf("join-to-visible p99 = %v, want a measured time", p99.Value)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v\n%s", err, buf.String())
	}
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
}

func TestPingEveryMakesEveryPeerOpenPingStreamsThatTheNodeAnswers(t *testing.T) {
	tg := startNode(t)
	r, err := Capacity(runCtx(t, 40*time.Second), tg, CapacityOptions{
		Peers: 10, NSSize: 10, Probes: 1, Idle: 2 * time.Second, Concurrency: 8, PingEvery: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// 10 peers every 200 ms is 50 streams a second; answered ones count.
	f := figure(t, r, "ping streams, idle window")
	if f.Value < 10 || f.Value > 60 {
		t.Fatalf("ping streams %v/s, want about 50 (%s)", f.Value, f.Note)
	}
}
