package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/rendezvous"
)

// FaultAllKill SIGKILLs every node at once while rendezvous registrations
// are being written, starts them again and counts the acknowledged
// registrations that did not survive. It runs last: every peer is gone
// with its node.
const FaultAllKill = "all-kill"

// allKillClients register, each in up to allKillNamespaces namespaces (under
// registry.max_registrations_per_peer), one every allKillEvery.
const (
	allKillClients    = 30
	allKillNamespaces = 30
	allKillEvery      = 200 * time.Millisecond
	allKillAfter      = 4 * time.Second
)

// acked is one registration the node acknowledged.
type acked struct {
	peer peer.ID
	ns   string
	at   time.Time
}

func (ph *faultPhase) allKill(ctx context.Context) error {
	c, r, o := ph.c, ph.r, ph.o
	gw := c.lab.Gateway()
	var hosts []host.Host
	defer func() {
		for _, h := range hosts {
			_ = h.Close()
		}
	}()
	clients := make([]*rendezvous.Client, allKillClients)
	for i := range clients {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return err
		}
		h, err := NewPeer(k, false)
		if err != nil {
			return err
		}
		hosts = append(hosts, h)
		at := c.nodes[i%len(c.nodes)].Info
		if err := connect(ctx, h, at); err != nil {
			return err
		}
		// A direct address, not a circuit through the node: the
		// registration is a TTL one, kept in the bucket's files (a
		// circuit-only one is bound to the node's instance and goes with it).
		addr := ma.StringCast(fmt.Sprintf("/ip4/%s/tcp/%d/ws", gw, 20000+i))
		clients[i] = rendezvous.NewClient(h, at.ID, rendezvous.WithAddrs(func() []ma.Multiaddr { return []ma.Multiaddr{addr} }))
	}

	o.Progress.Logf("all-kill: %d clients registering, one every %s each", allKillClients, allKillEvery)
	var mu sync.Mutex
	var got []acked
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() {
			tick := time.NewTicker(allKillEvery)
			defer tick.Stop()
			for k := range allKillNamespaces {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				ns := fmt.Sprintf("faults/all-kill/%d", k)
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := cl.Register(rctx, ns, time.Hour)
				cancel()
				if err == nil {
					mu.Lock()
					got = append(got, acked{peer: hosts[i].ID(), ns: ns, at: time.Now()})
					mu.Unlock()
				}
			}
		})
	}
	if err := sleep(ctx, allKillAfter); err != nil {
		return err
	}
	tk := time.Now()
	killErr := c.kill(0, 1, 2)
	close(stop)
	wg.Wait()
	if killErr != nil {
		return killErr
	}
	for _, h := range hosts {
		_ = h.Close()
	}
	hosts = nil
	// Every live peer went with its node.
	for _, p := range ph.pop.removeWhere(func(*livePeer) bool { return true }) {
		ph.s.stop(p, false)
	}

	o.Progress.Logf("all-kill: starting the three nodes again")
	tr := time.Now()
	errs := make([]error, len(c.nodes))
	var sw sync.WaitGroup
	for i := range c.nodes {
		sw.Go(func() { errs[i] = c.start(ctx, i) })
	}
	sw.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := waitReady(ctx, c.nodes, o.Recover); err != nil {
		return err
	}
	r.add("all-kill: restart to all ready", time.Since(tr).Seconds(), "s")

	found, err := ph.discoverAll(ctx)
	if err != nil {
		return err
	}
	var before, lost, lostLast int
	for _, a := range got {
		if !a.at.Before(tk) {
			continue // acknowledged as the kill went out: not counted
		}
		before++
		if !found[a.ns][a.peer] {
			lost++
			if tk.Sub(a.at) < time.Second {
				lostLast++
			}
		}
	}
	fsync := fmt.Sprintf("sync_interval %s", c.cfgs[0].Cluster.Embedded.SyncInterval)
	if c.cfgs[0].Cluster.Embedded.SyncAlways {
		fsync = "sync_always"
	}
	r.add("all-kill: registrations acknowledged before the kill", float64(before), "registrations").
		note(fmt.Sprintf("TTL registrations (1 h) over /rendezvous/1.0.0, %d clients on the three nodes; %s", allKillClients, fsync))
	r.add("all-kill: acknowledged registrations lost", float64(lost), "registrations").target("0", 0, true).
		note("not found by DISCOVER on node 1 after the restart")
	r.add("all-kill: lost of those acknowledged in the last second", float64(lostLast), "registrations")
	return nil
}

// discoverAll asks node 1 for every all-kill namespace's registrations.
func (ph *faultPhase) discoverAll(ctx context.Context) (map[string]map[peer.ID]bool, error) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := NewPeer(k, false)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	at := ph.c.nodes[0].Info
	if err := connect(ctx, h, at); err != nil {
		return nil, err
	}
	cl := rendezvous.NewClient(h, at.ID)
	out := make(map[string]map[peer.ID]bool)
	for k := range allKillNamespaces {
		ns := fmt.Sprintf("faults/all-kill/%d", k)
		out[ns] = make(map[peer.ID]bool)
		var cookie []byte
		for range math.MaxInt16 {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			regs, next, err := cl.Discover(dctx, ns, 100, cookie)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("discover %s: %w", ns, err)
			}
			for _, rg := range regs {
				out[ns][rg.Peer] = true
			}
			if len(regs) == 0 || len(next) == 0 {
				break
			}
			cookie = next
		}
	}
	return out, nil
}
