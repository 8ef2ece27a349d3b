package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/netlab"
	"github.com/ws-star/rendezvous/internal/nodeproc"
)

// runFaults runs the cluster-faults scenario with a small population and
// fails the test on every row that missed its target.
func runFaults(t *testing.T, o FaultsOptions, within time.Duration) *Report {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node cluster from the real binary in network namespaces")
	}
	if err := netlab.Available(); err != nil {
		t.Skipf("cluster fault tests need network namespaces: %v", err)
	}
	bin := nodeBinary(t)
	progress, nodeLog := nodeproc.NewTail(64<<10), nodeproc.NewTail(64<<10)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s\nnode warnings and errors (tail):\n%s", progress.String(), nodeLog.String())
		}
	})
	o.Peers, o.NSSize, o.Rate, o.Concurrency = 60, 20, 2, 16
	o.Binary, o.Dir = bin, t.TempDir()
	o.NodeLog, o.Progress = nodeLog, NewProgress(progress, "faults")
	t0 := time.Now()
	r, err := ClusterFaults(runCtx(t, within), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("took %s\n%s", time.Since(t0).Round(time.Second), buf.String())
	for _, f := range r.Figures {
		if f.Met != nil && !*f.Met {
			t.Errorf("%s = %v %s, target %s (%s)", f.Name, f.Value, f.Unit, f.Target, f.Note)
		}
	}
	if got := figure(t, r, "peers connected").Value; got != float64(o.Peers) {
		t.Errorf("peers connected = %v, want %d", got, o.Peers)
	}
	for _, name := range []string{"lost events", "ghosts", "duplicate JOINED", "duplicate LEFT"} {
		if f := figure(t, r, name); f.Value != 0 {
			t.Errorf("%s = %v (%s)", name, f.Value, f.Note)
		}
	}
	if f := figure(t, r, "churn leaves"); !(f.Value > 0) {
		t.Errorf("no churn: %v leaves", f.Value)
	}
	return r
}

// The partition here lasts 20 s (the bench's default is 60 s): long enough
// for each side to drop the other's members (lease_ttl 3 s) and for the
// minority's /readyz to turn 503 (after 15 s degraded).
func TestClusterPartitionedNodeKeepsItsPeersAndTheClusterAgreesAfterTheHeal(t *testing.T) {
	r := runFaults(t, FaultsOptions{Faults: []string{FaultPartition}, Partition: 20 * time.Second, Recover: 45 * time.Second}, 4*time.Minute)
	for _, name := range []string{"partition: heal to views agree", "partition: heal to all nodes ready"} {
		if v := figure(t, r, name).Value; math.IsNaN(v) {
			t.Errorf("%s: not reached", name)
		}
	}
	if f := figure(t, r, "partition: minority (node 3) probe views missed"); f.Value != 0 {
		t.Errorf("the cut-off node's own peers missed %v joins", f.Value)
	}
}

func TestClusterLosesNothingWhenTheStreamOrMetaLeaderIsKilled(t *testing.T) {
	r := runFaults(t, FaultsOptions{Faults: []string{FaultStreamLeader, FaultMetaLeader}, Recover: 45 * time.Second}, 5*time.Minute)
	for _, name := range []string{"stream-leader: kill to new stream leader", "stream-leader: kill to survivors' views agree",
		"meta-leader: kill to survivors' views agree", "meta-leader: restart to views agree"} {
		if v := figure(t, r, name).Value; math.IsNaN(v) {
			t.Errorf("%s: not reached", name)
		}
	}
}

// Every node is SIGKILLed at once while registrations are written: with the
// default sync_interval nothing acknowledged is lost, since a killed
// process leaves its written files to the kernel (a power loss is not
// covered here).
func TestClusterKeepsAcknowledgedRegistrationsWhenEveryNodeIsKilledAtOnce(t *testing.T) {
	r := runFaults(t, FaultsOptions{Faults: []string{FaultAllKill}, Recover: 45 * time.Second}, 3*time.Minute)
	if got := figure(t, r, "all-kill: registrations acknowledged before the kill").Value; !(got > 0) {
		t.Fatalf("no registration acknowledged before the kill: %v", got)
	}
}

// The route connections go through relays in the test process that hold
// every chunk for the link's delay (the kernel here has no netem). A node
// 500 ms from the others used to lose its lease for good (a renewal's
// deadline was 1 s) and its views stopped receiving the other nodes'
// changes: every probe row here must reach every view.
func TestClusterNodeSlowedTo500msKeepsItsLeaseAndItsViews(t *testing.T) {
	r := runFaults(t, FaultsOptions{Faults: []string{FaultLatency}, Recover: 45 * time.Second}, 5*time.Minute)
	if f := figure(t, r, "latency: node 3 slowed to 500ms, lease renewals ok / failed"); !strings.HasPrefix(f.Note, "0 failed") {
		t.Errorf("lease renewals failed with node 3 at 500 ms: %s", f.Note)
	}
}
