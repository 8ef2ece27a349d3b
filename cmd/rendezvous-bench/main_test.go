package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/bench"
)

func TestCapacityAgainstExternalNodePrintsJSONWithNodeFigures(t *testing.T) {
	// A node started separately stands for one run with --node and --pid;
	// here it lives in the test process, which is the pid given.
	tg, err := bench.StartTarget(t.Context(), bench.TargetOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	addr := tg.Info.Addrs[0].String() + "/p2p/" + tg.Info.ID.String()

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"capacity", "--node", addr, "--pid", itoa(os.Getpid()),
		"--peers", "12", "--ns-size", "6", "--probes", "2", "--idle", "200ms", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r bench.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out.String())
	}
	if r.Node != "external" {
		t.Errorf("node kind = %q, want external", r.Node)
	}
	f, ok := r.Figure("node RSS, idle peers")
	if !ok || !(f.Value > 0) {
		t.Errorf("node RSS from /proc missing: %+v", f)
	}
}

func TestBadInvocationsExitWithUsageStatus(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nonsense"},
		{"capacity", "--pairs", "0"},
		{"capacity", "--pid", "1"},
		{"relay", "--node", "/ip4/10.1.2.3/tcp/1/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"},
		{"cluster"}, // no --node-bin
		{"cluster", "--node-bin", "rendezvous", "--nodes", "1"},
		{"cluster", "--node-bin", "rendezvous", "--node", "/ip4/127.0.0.1/tcp/1/ws"},
		{"cluster", "--node-bin", "rendezvous", "--pprof", "127.0.0.1:6060"},
		{"capacity", "--ping-every", "-1s"},
		{"sweep", "--peers", "10,0"},
		{"sweep", "--peers", "10,x"},
		{"sweep", "--pid", "1"},
		{"capacity", "--peers", "10,20"}, // a list is for sweep
		{"capacity", "--plot", "charts"},
		{"capacity", "--transport", "quic"},
		{"churn", "--transport", "webtransport"},
		{"abuse", "--scenario", "slowloris,teardrop"},
		{"abuse", "--ns-size", "0"},
		{"abuse", "--pid", "1"},
		{"pubsub", "--windows", "2"},
		{"pubsub", "--interval", "0s"},
		{"pubsub", "--announce-interval", "-1s"},
		{"pubsub", "--pid", "1"},
		{"pubsub", "--peers", "10,0"},
		{"pubsub", "--transport", "webrtc-direct"},
	} {
		var out, errOut bytes.Buffer
		code := run(t.Context(), args, &out, &errOut)
		want := 2
		if len(args) == 3 && args[0] == "relay" {
			want = 1 // a non-loopback node is refused before any dial
		}
		if code != want {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, want, errOut.String())
		}
		if out.Len() != 0 {
			t.Errorf("%q: wrote to stdout: %s", args, out.String())
		}
		if !strings.Contains(errOut.String(), "rendezvous-bench") && len(args) > 0 {
			t.Errorf("%q: no message on stderr", args)
		}
	}
}

func TestSweepRunsEverySizeOnAFreshNodeAndPrintsARowPerSize(t *testing.T) {
	plots := filepath.Join(t.TempDir(), "charts")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"sweep", "--peers", "6,12", "--ns-size", "6", "--probes", "2",
		"--idle", "200ms", "--ping-every", "0", "--concurrency", "4", "--plot", plots}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	t.Log("\n" + out.String())
	// The rows: N first, failed peers last.
	var sizes []string
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 9 {
			if _, err := strconv.Atoi(f[0]); err == nil {
				sizes = append(sizes, f[0])
				if f[8] != "0" {
					t.Errorf("size %s: %s peers failed", f[0], f[8])
				}
			}
		}
	}
	if strings.Join(sizes, ",") != "6,12" {
		t.Errorf("rows for sizes %v, want 6 and 12:\n%s", sizes, out.String())
	}
	if !strings.HasPrefix(out.String(), "scenario sweep against in-process node") {
		t.Errorf("no sweep header:\n%s", out.String())
	}
	// Progress went to stderr, one node per size.
	for _, want := range []string{"sweep: 6 peers (1/2): ramp done: 6/6 peers", "sweep: 12 peers (2/2): ramp done: 12/12 peers",
		"sweep: 12 peers (2/2): idle window done"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Count(errOut.String(), "capacity against in-process node") != 2 {
		t.Errorf("want a fresh node per size:\n%s", errOut.String())
	}
	for _, name := range []string{"sweep-rss-per-peer.svg", "sweep-cpu-per-peer.svg", "sweep-join-to-visible-cdf.svg"} {
		b, err := os.ReadFile(filepath.Join(plots, name))
		if err != nil {
			t.Fatal(err)
		}
		if n := polylines(t, b); n == 0 {
			t.Errorf("%s: no polyline", name)
		}
	}
}

func TestSweepAgainstExternalNodePrintsJSONWithARowAndAReportPerSize(t *testing.T) {
	tg, err := bench.StartTarget(t.Context(), bench.TargetOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	addr := tg.Info.Addrs[0].String() + "/p2p/" + tg.Info.ID.String()

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"sweep", "--node", addr, "--pid", itoa(os.Getpid()),
		"--peers", "5,10", "--ns-size", "5", "--probes", "2", "--idle", "200ms", "--ping-every", "0", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var sr bench.SweepReport
	if err := json.Unmarshal(out.Bytes(), &sr); err != nil {
		t.Fatalf("stdout is not a JSON sweep: %v\n%s", err, out.String())
	}
	if sr.Scenario != "sweep" || sr.Node != "external" || len(sr.Rows) != 2 || len(sr.Runs) != 2 {
		t.Fatalf("sweep %q against %q with %d rows and %d runs, want 2 against external", sr.Scenario, sr.Node, len(sr.Rows), len(sr.Runs))
	}
	for i, n := range []int{5, 10} {
		row, r := sr.Rows[i], sr.Runs[i]
		if row.Peers != n || row.Connected != n || r.Params["peers"] != float64(n) {
			t.Errorf("row %d: %+v, run params %v; want %d peers", i, row, r.Params, n)
		}
		if !(row.RSSMiB > 0) || !(row.JoinP99Ms > 0) {
			t.Errorf("row %d: RSS %v MiB, join-to-visible p99 %v ms: want measured", i, row.RSSMiB, row.JoinP99Ms)
		}
		// The samples behind the CDF: one per probe that reached its views.
		if s := r.Samples["join-to-visible"]; len(s) != 2 {
			t.Errorf("run %d: join-to-visible samples %v, want 2", i, s)
		}
	}
}

func TestPubsubAtTwoSizesPrintsEachSizeAndTheRowsAcrossSizes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"pubsub", "--peers", "4,8", "--interval", "2s", "--announce-interval", "1s",
		"--windows", "3", "--probes", "1", "--ping-every", "500ms", "--concurrency", "4", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r bench.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out.String())
	}
	for _, name := range []string{"N=4: learned within 2 intervals min", "N=8: learned within 2 intervals min",
		"N=8: newcomers: learned within 2 intervals min"} {
		f, ok := r.Figure(name)
		if !ok || (f.Target != "" && (f.Met == nil || !*f.Met)) {
			t.Errorf("%s: %+v", name, f)
		}
	}
	// CPU figures are measured, not asserted: a test on a shared machine
	// only checks that they are there.
	for _, name := range []string{"N=8: node CPU per 1,000: pubsub / ws-star", "node CPU per 1,000 idle subscribers, max / min over sizes", "node CPU per 1,000: pubsub / ws-star, max over sizes"} {
		if _, ok := r.Figure(name); !ok {
			t.Errorf("no row %q", name)
		}
	}
	// A fresh node for each part of each size.
	for _, part := range []string{"(4-pubsub)", "(4-ws-star)", "(8-pubsub)", "(8-ws-star)"} {
		if !strings.Contains(errOut.String(), "pubsub "+part+" against in-process node") {
			t.Errorf("no node started for %s:\n%s", part, errOut.String())
		}
	}
}

// polylines checks that b is well-formed XML and counts its polylines.
func polylines(t *testing.T, b []byte) int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		if e, ok := tok.(xml.StartElement); ok && e.Name.Local == "polyline" {
			n++
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLegacyAgainstExternalNodeReportsSeenByAllAndIdleCPU(t *testing.T) {
	tg, err := bench.StartTarget(t.Context(), bench.TargetOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	addr := tg.Info.Addrs[0].String() + "/p2p/" + tg.Info.ID.String()

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"legacy", "--node", addr, "--pid", itoa(os.Getpid()),
		"--peers", "10", "--probes", "3", "--idle", "200ms", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r bench.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out.String())
	}
	for _, name := range []string{"peers held", "seen-by-all p99", "probes incomplete"} {
		if f, ok := r.Figure(name); !ok || f.Met == nil || !*f.Met {
			t.Errorf("%s: %+v, want met", name, f)
		}
	}
	// Node figures come from /proc of --pid (the value itself is this
	// test process's, so it is not held to the target).
	if f, ok := r.Figure("node RSS, idle peers"); !ok || !(f.Value > 0) {
		t.Errorf("node RSS from /proc missing: %+v", f)
	}
}
