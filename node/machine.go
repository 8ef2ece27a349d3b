package node

import (
	"github.com/pbnjay/memory"

	"github.com/ws-star/rendezvous/config"
)

// Machine raises the open-file limit and reports what the sizing of
// capacity.peers needs to know about this host.
func Machine() config.Machine {
	return config.Machine{FDLimit: RaiseFileLimit(), Memory: memory.TotalMemory()}
}
