package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSweepKeepsTheSizesMeasuredBeforeOneFails(t *testing.T) {
	refused := errors.New("no node for this size")
	started := 0
	sr, err := Sweep(runCtx(t, 40*time.Second), SweepOptions{
		CapacityOptions: CapacityOptions{NSSize: 4, Probes: 1, Idle: 100 * time.Millisecond, Concurrency: 4},
		Sizes:           []int{4, 8},
		Start: func(ctx context.Context, i int) (*Target, error) {
			started++
			if i == 1 {
				return nil, refused
			}
			return StartTarget(ctx, TargetOptions{Dir: t.TempDir()})
		},
	})
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "sweep at 8 peers") {
		t.Fatalf("error %v, want the second size's", err)
	}
	if started != 2 || sr == nil || len(sr.Rows) != 1 || len(sr.Runs) != 1 {
		t.Fatalf("started %d nodes; sweep %+v; want one size measured of two", started, sr)
	}
	if row := sr.Rows[0]; row.Peers != 4 || row.Connected != 4 || row.Failed != 0 || !(row.RSSMiB > 0) {
		t.Errorf("row %+v", row)
	}
	var buf bytes.Buffer
	if err := sr.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "in-process node: its RSS and CPU include the generator") {
		t.Errorf("table does not say the node figures include the generator:\n%s", buf.String())
	}
}
