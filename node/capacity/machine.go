package capacity

import (
	"os"
	"strconv"
	"strings"

	"github.com/pbnjay/memory"

	"github.com/ws-star/rendezvous/config"
)

// Machine raises the open-file limit and reports what the sizing of
// capacity.peers needs to know about this host: its open-file limit and its
// memory, or the container's memory limit when that is lower.
func Machine() config.Machine {
	mem := memory.TotalMemory()
	if l := cgroupMemoryLimit(); l > 0 && (mem == 0 || l < mem) {
		mem = l
	}
	return config.Machine{FDLimit: RaiseFileLimit(), Memory: mem}
}

// cgroupMemoryLimits are the files holding a container's memory limit:
// cgroup v2, then v1. A missing file, "max" or a huge v1 value means none.
var cgroupMemoryLimits = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

func cgroupMemoryLimit() uint64 {
	for _, path := range cgroupMemoryLimits {
		if l := readMemoryLimit(path); l > 0 {
			return l
		}
	}
	return 0
}

func readMemoryLimit(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v >= 1<<60 { // "max", or v1's "no limit" (a page-rounded MaxInt64)
		return 0
	}
	return v
}
