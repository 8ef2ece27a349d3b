package capacity

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/ws-star/rendezvous/config"
)

func TestTuneGCDerivesTheMemoryLimitFromCapacityUnlessGOMEMLIMITIsSet(t *testing.T) {
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(limit) })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := config.Default()
	c.Capacity.Peers = 10000

	TuneGC(c, func(string) string { return "" }, quiet)
	want := int64(10000*config.MemoryPerPeer + 256<<20)
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("memory limit %d, want %d", got, want)
	}

	debug.SetMemoryLimit(limit)
	TuneGC(c, func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, quiet)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("GOMEMLIMIT set: limit changed to %d", got)
	}
}
