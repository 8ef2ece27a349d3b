package node

import (
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/ws-star/rendezvous/config"
)

// GCPercent is the collector's target for a node process: the heap grows
// half its live size between collections instead of doubling. An idle node
// allocates little (forced collections every two minutes dominate), so this
// buys memory per peer for little CPU; see docs/benchmarks.md.
const GCPercent = 50

// TuneGC sets the process's garbage collector for a node sized by c, unless
// the operator set GOGC or GOMEMLIMIT: GCPercent, and a soft memory limit of
// config.MemoryPerPeer per peer of capacity plus 256 MiB, so a burst cannot
// grow the heap past the memory the node was sized for. It is for the node
// binary; a program embedding several nodes keeps its own settings.
func TuneGC(c config.Config, getenv func(string) string, log *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit(c))
	}
	// There is no getter: setting returns the previous value, set it back.
	percent := debug.SetGCPercent(GCPercent)
	debug.SetGCPercent(percent)
	log.Info("garbage collector", "gc_percent", percent, "memory_limit_mb", debug.SetMemoryLimit(-1)>>20)
}

// MemoryLimit is the soft memory limit derived from capacity.peers.
func MemoryLimit(c config.Config) int64 {
	peers := int64(max(c.Capacity.Peers, config.MinPeers))
	return min(peers*config.MemoryPerPeer+256<<20, math.MaxInt64/2)
}
