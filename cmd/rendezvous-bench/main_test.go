package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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

func itoa(n int) string { return strconv.Itoa(n) }
