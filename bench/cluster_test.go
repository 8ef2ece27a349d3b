package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/nodeproc"
)

// raceEnabled is set by race_test.go when the tests are built with -race.
var raceEnabled bool

// nodeBinary builds ./cmd/rendezvous into a test directory, with -race when
// the tests run with it (as the interop tests do: the packages are then
// already built for the test binary); RENDEZVOUS_BIN, when set, names a
// binary to use instead.
func nodeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("RENDEZVOUS_BIN"); bin != "" {
		t.Logf("using RENDEZVOUS_BIN=%s", bin)
		return bin
	}
	bin := filepath.Join(t.TempDir(), "rendezvous")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if err := nodeproc.Build(ctx, "..", bin, raceEnabled); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestClusterSeesJoinsAcrossNodesAndDropsTheKilledNodesPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster and a single node from the real binary")
	}
	bin := nodeBinary(t)
	progress, nodeLog := nodeproc.NewTail(64<<10), nodeproc.NewTail(64<<10)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s\nnode logs (tail):\n%s", progress.String(), nodeLog.String())
		}
	})
	const peers, nodes = 60, 3
	ghostWait := 8 * time.Second
	r, err := Cluster(runCtx(t, 100*time.Second), ClusterOptions{
		CapacityOptions: CapacityOptions{Peers: peers, NSSize: 50, Probes: 3, Idle: time.Second, Concurrency: 16,
			Progress: NewProgress(progress, "cluster")},
		Nodes:  nodes,
		Binary: bin, Dir: t.TempDir(), Baseline: true, GhostWait: ghostWait,
		NodeLog: nodeLog,
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())

	if got := figure(t, r, "peers connected").Value; got != peers {
		t.Fatalf("peers connected = %v, want %d (%s)", got, peers, figure(t, r, "peers failed").Note)
	}
	if got := figure(t, r, "views incomplete after ramp").Value; got != 0 {
		t.Errorf("views incomplete after ramp = %v, want 0", got)
	}
	// Namespaces of 50 over 3 nodes: every probe has views on other nodes.
	if got := figure(t, r, "probe views expected").Value; !(got > 0) {
		t.Errorf("probe views expected = %v, want views on the other nodes", got)
	}
	if got := figure(t, r, "probe views missed").Value; got != 0 {
		t.Errorf("probe views missed = %v, want 0", got)
	}
	if p99 := figure(t, r, "cross-node join-to-visible p99").Value; !(p99 > 0) {
		t.Errorf("cross-node join-to-visible p99 = %v, want a measured time", p99)
	}
	for i := 1; i <= nodes; i++ {
		for _, name := range []string{"CPU", "RSS"} {
			f := figure(t, r, fmt.Sprintf("node %d %s, idle peers", i, name))
			if math.IsNaN(f.Value) || f.Value < 0 || (name == "RSS" && f.Value == 0) {
				t.Errorf("%s = %v", f.Name, f.Value)
			}
		}
	}
	if got := figure(t, r, "cluster nodes seen, min over nodes").Value; got != nodes {
		t.Errorf("cluster nodes seen = %v, want %d", got, nodes)
	}

	victims := figure(t, r, "killed-node peers").Value
	if victims != peers/nodes {
		t.Errorf("killed-node peers = %v, want %d", victims, peers/nodes)
	}
	if got := figure(t, r, "killed-node peers LEFT everywhere").Value; got != victims {
		t.Errorf("killed-node peers LEFT everywhere = %v, want all %v", got, victims)
	}
	expected := figure(t, r, "crash LEFT views expected").Value
	if seen := figure(t, r, "crash LEFT views seen").Value; !(expected > 0) || seen != expected {
		t.Errorf("crash LEFT views seen %v of %v expected", seen, expected)
	}
	if f := figure(t, r, "crash LEFT reason not DISCONNECTED"); f.Value != 0 {
		t.Errorf("LEFT with another reason than DISCONNECTED in %v views (%s)", f.Value, f.Note)
	}
	if p99 := figure(t, r, "crash-to-LEFT p99").Value; !(p99 > 0) || p99 > ghostWait.Seconds()*1000 {
		t.Errorf("crash-to-LEFT p99 = %v ms", p99)
	}
	if got := figure(t, r, "ghosts").Value; got != 0 {
		t.Errorf("ghosts = %v, want 0", got)
	}
	if got := figure(t, r, "survivors ready after crash").Value; got != nodes-1 {
		t.Errorf("survivors ready after crash = %v, want %d", got, nodes-1)
	}
	for _, name := range []string{"single node RSS, idle peers", "cluster cost: CPU per node", "cluster cost: RSS per node"} {
		if v := figure(t, r, name).Value; math.IsNaN(v) {
			t.Errorf("%s not measured", name)
		}
	}
	if v := figure(t, r, "single node RSS, idle peers").Value; !(v > 0) {
		t.Errorf("single node RSS = %v", v)
	}

	buf.Reset()
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	if back.Scenario != "cluster" || !strings.Contains(buf.String(), `"crash-to-LEFT p99"`) {
		t.Errorf("JSON report lacks the scenario or its figures")
	}
}

func TestClusterRefusesWhatItCannotRun(t *testing.T) {
	for _, o := range []ClusterOptions{
		{Dir: t.TempDir()}, // no binary
		{Binary: "rendezvous", Dir: t.TempDir(), Nodes: 1},  // nothing to kill
		{Binary: "rendezvous"},                              // nowhere to keep the nodes' files
		{Binary: "rendezvous", Dir: t.TempDir(), Nodes: 50}, // too many processes
	} {
		if _, err := Cluster(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
