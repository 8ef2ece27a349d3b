package capacity

import (
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/ws-star/rendezvous/config"
)

// TuneGC gives the process's garbage collector a soft memory limit of
// config.MemoryPerPeer per peer of capacity plus 256 MiB, unless the
// operator set GOMEMLIMIT, so a burst cannot grow the heap past the memory
// the node was sized for. The GC target stays Go's default (GOGC=100): at
// 50 % the node saved about 10 KiB a peer idle but spent 10 points more CPU
// and doubled event latency under churn (docs/benchmarks.md). It is for the
// node binary; a program embedding nodes keeps its own settings.
func TuneGC(c config.Config, getenv func(string) string, log *slog.Logger) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit(c))
	}
	// There is no getter: setting returns the previous value, set it back.
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	log.Info("garbage collector", "gc_percent", percent, "memory_limit_mb", debug.SetMemoryLimit(-1)>>20)
}

// MemoryLimit is the soft memory limit derived from capacity.peers.
func MemoryLimit(c config.Config) int64 {
	peers := int64(max(c.Capacity.Peers, config.MinPeers))
	return min(peers*config.MemoryPerPeer+256<<20, math.MaxInt64/2)
}
