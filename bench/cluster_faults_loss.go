package bench

import (
	"context"
	"fmt"
	"math"
	"time"
)

// FaultLoss drops a share of the packets between the nodes on top of the
// latency fault's 100 ms: the kernel here has no netem, so the drops are
// nftables rules in each node's namespace (netlab's Loss) on the route
// relays' traffic only; the peers' packets are not touched.
const FaultLoss = "loss"

const (
	// lossPct is the share of the packets dropped on every link between
	// two nodes, each direction.
	lossPct = 5
	// lossProbes is the number of probes of each row: enough for a p99
	// that is more than the slowest of a handful.
	lossProbes = 20
)

func (ph *faultPhase) loss(ctx context.Context) error {
	c, o := ph.c, ph.o
	name := fmt.Sprintf("loss: %d %% and %s between nodes", lossPct, latencyAll)
	o.Progress.Logf("%s", name)
	t0 := time.Now()
	hl := c.watchHealth(ctx, t0)
	defer hl.end()
	c.relays.setAllDelays(latencyAll)
	defer c.relays.setAllDelays(0)
	// Into a node come its routes' packets from the relays: to its route
	// port (a relay dialed it) or from a relay's port (it dialed a relay).
	ports := append(c.relays.ports(), labRoutePort)
	if err := c.lab.Loss(ctx, lossPct, ports...); err != nil {
		return err
	}
	removed := false
	defer func() {
		if !removed {
			_ = c.lab.NoLoss(context.Background())
		}
	}()
	if err := ph.holdRenewals(ctx, name, latencyHold); err != nil {
		return err
	}
	ph.probes(ctx, name+", node 1 to 2", 0, []int{1}, lossProbes)
	ph.probes(ctx, name+", node 2 to 3", 1, []int{2}, lossProbes)
	ph.probes(ctx, name+", node 3 to 1", 2, []int{0}, lossProbes)
	held := time.Since(t0)
	if err := c.lab.NoLoss(ctx); err != nil {
		return err
	}
	removed = true
	c.relays.setAllDelays(0)
	took := c.allReady(ctx, o.Recover)
	ph.r.add("loss: removed, to all nodes ready", took, "s").
		note(fmt.Sprintf("after %.1f s of loss; every node's /readyz 200 and rendezvous_cluster_nodes 3", held.Seconds()))
	for i, l := range hl.end() {
		ph.r.add(fmt.Sprintf("loss: node %d health", i+1), math.NaN(), "").note(l)
	}
	return nil
}
