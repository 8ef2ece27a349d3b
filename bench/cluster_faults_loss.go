package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// FaultLoss drops a share of the packets between the nodes on top of the
// latency fault's 100 ms: the kernel here has no netem, so the drops are
// nftables rules in each node's namespace (netlab's Loss) on the route
// relays' traffic only; the peers' packets are not touched. The same probes
// run first at 100 ms without loss, which the loss is measured against.
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
	t0 := time.Now()
	hl := c.watchHealth(ctx, t0)
	defer hl.end()
	c.relays.setAllDelays(latencyAll)
	defer c.relays.setAllDelays(0)
	leader := -1
	if l, err := c.anyStreamLeader(ctx); err == nil {
		leader = l
	}
	ph.r.add("loss: stream leader", float64(leader+1), "node").
		note("the node whose JetStream server leads the bucket: a join on another node goes through it")
	var phaseAt []string
	// Each setting is held before its probes (renewals), then probed
	// between every two nodes.
	phase := func(name string) error {
		phaseAt = append(phaseAt, fmt.Sprintf("%+.1f s %s", time.Since(t0).Seconds(), strings.TrimPrefix(name, "loss: ")))
		o.Progress.Logf("%s", name)
		r0 := c.retransmits()
		if err := ph.holdRenewals(ctx, name, latencyHold); err != nil {
			return err
		}
		ph.probes(ctx, name+", node 1 to 2", 0, []int{1}, lossProbes)
		ph.probes(ctx, name+", node 2 to 3", 1, []int{2}, lossProbes)
		ph.probes(ctx, name+", node 3 to 1", 2, []int{0}, lossProbes)
		ph.r.add(name+", TCP segments retransmitted", c.retransmits()-r0, "segments").
			note("by the three nodes' namespaces while held and probed (their peers' connections included)")
		return nil
	}
	if err := phase(fmt.Sprintf("loss: none, %s between nodes", latencyAll)); err != nil {
		return err
	}

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
	if err := phase(fmt.Sprintf("loss: %d %% and %s between nodes", lossPct, latencyAll)); err != nil {
		return err
	}
	if err := c.lab.NoLoss(ctx); err != nil {
		return err
	}
	removed = true
	c.relays.setAllDelays(0)
	phaseAt = append(phaseAt, fmt.Sprintf("%+.1f s none", time.Since(t0).Seconds()))
	ph.recovered(ctx, "loss", phaseAt, hl)
	return nil
}

// retransmits sums the TCP segments the nodes' namespaces retransmitted,
// NaN when one cannot be read.
func (c *labCluster) retransmits() float64 {
	var sum float64
	for i := range c.nodes {
		n, err := c.lab.Retransmits(i)
		if err != nil {
			return math.NaN()
		}
		sum += float64(n)
	}
	return sum
}
