package node

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/ws-star/rendezvous/config"
)

func TestTuneGCDerivesTheLimitFromCapacityAndLeavesOperatorSettingsAlone(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := config.Default()
	c.Capacity.Peers = 10000

	TuneGC(c, func(string) string { return "" }, quiet)
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("GC percent %d, want %d", got, GCPercent)
	}
	want := int64(10000*config.MemoryPerPeer + 256<<20)
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("memory limit %d, want %d", got, want)
	}

	debug.SetMemoryLimit(limit)
	set := map[string]string{"GOGC": "200", "GOMEMLIMIT": "1GiB"}
	TuneGC(c, func(k string) string { return set[k] }, quiet)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("GOMEMLIMIT set: limit changed to %d", got)
	}
}
