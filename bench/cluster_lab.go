package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/netlab"
)

// A cluster whose nodes each run in a network namespace of a lab
// (internal/netlab): the faults scenario cuts and restores the links
// between them while the peers, in this process, keep reaching every node.

// Ports inside each namespace: every node has its own address, so all use
// the same ones.
const (
	labWSPort      = 9090
	labRoutePort   = 6222
	labClientPort  = 4222
	labClusterName = "rendezvous"
)

// labCluster is the nodes of one embedded cluster, node i in the lab's
// namespace i.
type labCluster struct {
	lab    *netlab.Lab
	bin    string
	nodes  []*Target
	cfgs   []config.Config
	dirs   []string
	leader *metaLeaders
	log    io.Writer
	// relays, when set, carry every route connection (see routeRelays).
	relays *routeRelays

	mu sync.Mutex
	up []bool // false while a node is killed
}

// startLabCluster builds a lab of n namespaces and starts one node in each,
// each in its own directory under dir. configure, when set, changes every
// node's configuration. With relayed, the nodes reach each other only
// through delaying relays in this process.
func startLabCluster(ctx context.Context, bin, dir string, n int, log io.Writer, configure func(*config.Config), relayed bool) (*labCluster, error) {
	lab, err := netlab.New(ctx, n)
	if err != nil {
		return nil, err
	}
	c := &labCluster{lab: lab, bin: bin, log: log, up: make([]bool, n), leader: &metaLeaders{}}
	var routes []string
	for _, nd := range lab.Nodes() {
		routes = append(routes, netip.AddrPortFrom(nd.Addr, labRoutePort).String())
	}
	routeTo := func(i, j int) string { return routes[j] }
	if relayed {
		if c.relays, err = newRouteRelays(lab.Gateway(), routes); err != nil {
			c.close()
			return nil, err
		}
		routeTo = c.relays.Addr
		for i := range n {
			var others []int
			for j := i + 1; j < n; j++ {
				others = append(others, j)
			}
			if len(others) > 0 {
				if err := lab.Partition(ctx, []int{i}, others); err != nil {
					c.close()
					return nil, err
				}
			}
		}
	}
	for i, nd := range lab.Nodes() {
		d := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		if err := os.MkdirAll(d, 0o700); err != nil {
			c.close()
			return nil, err
		}
		cfg := BenchConfig(d, "")
		cfg.Listen = []string{fmt.Sprintf("/ip4/%s/tcp/%d/ws", nd.Addr, labWSPort)}
		// Every peer comes from the bridge's address.
		cfg.Resources.TrustedSubnets = append(cfg.Resources.TrustedSubnets, lab.Prefix().String())
		cfg.Cluster.Embedded.Listen = routes[i]
		for j := range routes {
			if j != i {
				cfg.Cluster.Embedded.Routes = append(cfg.Cluster.Embedded.Routes, routeTo(i, j))
			}
		}
		// Reached from this process only, on the lab's network: where the
		// scenario asks JetStream which server leads the bucket.
		cfg.Cluster.Embedded.ClientListen = netip.AddrPortFrom(nd.Addr, labClientPort).String()
		// The embedded server's notices (leader changes) are logged at Debug.
		cfg.Log.Level = "debug"
		if configure != nil {
			configure(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.dirs = append(c.dirs, d)
	}
	c.nodes = make([]*Target, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = c.start(ctx, i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// start runs node i (again, after a kill: same identity, store and address).
func (c *labCluster) start(ctx context.Context, i int) error {
	l := launch{
		wrap:   func(bin string, args []string) (string, []string) { return c.lab.Command(i, bin, args...) },
		subnet: c.lab.Prefix(),
	}
	w := &labLog{node: i, out: c.log, leaders: c.leader}
	t, err := startProcessWith(ctx, l, c.bin, c.cfgs[i], c.dirs[i], w)
	if err != nil {
		return fmt.Errorf("node %d: %w", i+1, err)
	}
	c.mu.Lock()
	c.nodes[i], c.up[i] = t, true
	c.mu.Unlock()
	return nil
}

// kill ends the nodes with SIGKILL at once.
func (c *labCluster) kill(idx ...int) error {
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		c.mu.Lock()
		c.up[i] = false
		c.mu.Unlock()
		wg.Go(func() { errs[k] = c.nodes[i].Kill() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// isUp reports whether node i runs (was not killed, or was started again).
func (c *labCluster) isUp(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up[i]
}

// index is the position of the node with peer ID id, -1 if none.
func (c *labCluster) index(id peer.ID) int {
	for i, t := range c.nodes {
		if t.Info.ID == id {
			return i
		}
	}
	return -1
}

// close stops every node and removes the lab.
func (c *labCluster) close() {
	var live []*Target
	for _, t := range c.nodes {
		if t != nil {
			live = append(live, t)
		}
	}
	closeTargets(live, nil)
	if c.relays != nil {
		c.relays.close()
	}
	_ = c.lab.Close()
}

// streamLeader asks JetStream, through node i's client listener, which
// node leads the bucket's stream; -1 when it has none (an election).
func (c *labCluster) streamLeader(ctx context.Context, i int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	nc, err := nats.Connect("nats://"+c.cfgs[i].Cluster.Embedded.ClientListen, nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return -1, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1, err
	}
	s, err := js.Stream(ctx, "KV_"+c.cfgs[i].Cluster.Bucket)
	if err != nil {
		return -1, err
	}
	ci := s.CachedInfo().Cluster
	if ci == nil || ci.Leader == "" {
		return -1, nil
	}
	id, err := peer.Decode(ci.Leader)
	if err != nil {
		return -1, fmt.Errorf("bench: stream leader %q: %w", ci.Leader, err)
	}
	return c.index(id), nil
}

// consumersOn counts, per node, the bucket's consumers it hosts: each node's
// watch is an ordered consumer, which JetStream may place on any server of
// the stream, so a node's watch can depend on another node's process.
func (c *labCluster) consumersOn(ctx context.Context) (map[int]int, error) {
	for i := range c.nodes {
		if !c.isUp(i) {
			continue
		}
		nc, err := nats.Connect("nats://"+c.cfgs[i].Cluster.Embedded.ClientListen, nats.Timeout(2*time.Second), nats.NoReconnect())
		if err != nil {
			continue
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := js.Stream(lctx, "KV_"+c.cfgs[i].Cluster.Bucket)
		if err != nil {
			return nil, err
		}
		out := make(map[int]int)
		l := s.ListConsumers(lctx)
		for ci := range l.Info() {
			if ci.Cluster == nil {
				continue
			}
			if id, err := peer.Decode(ci.Cluster.Leader); err == nil {
				out[c.index(id)]++
			}
		}
		return out, l.Err()
	}
	return nil, errors.New("bench: no node to ask for the bucket's consumers")
}

// stepDownStream asks the bucket's stream leader, node from, to hand its
// leadership over, and waits until another node has it.
func (c *labCluster) stepDownStream(ctx context.Context, from int) error {
	nc, err := nats.Connect("nats://"+c.cfgs[from].Cluster.Embedded.ClientListen, nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.KV_"+c.cfgs[from].Cluster.Bucket, nil, 5*time.Second); err != nil {
		return fmt.Errorf("bench: stream leader step-down: %w", err)
	}
	for t0 := time.Now(); time.Since(t0) < 15*time.Second; {
		if l, err := c.anyStreamLeader(ctx); err == nil && l >= 0 && l != from {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return errors.New("bench: the stream leader did not move within 15 s")
}

// anyStreamLeader is streamLeader asked of the running nodes in turn.
func (c *labCluster) anyStreamLeader(ctx context.Context) (int, error) {
	var errs []error
	for i := range c.nodes {
		if !c.isUp(i) {
			continue
		}
		l, err := c.streamLeader(ctx, i)
		if err == nil {
			return l, nil
		}
		errs = append(errs, err)
	}
	return -1, errors.Join(errs...)
}

// metaLeader is the node that last said it leads JetStream's metadata (its
// meta group), -1 if none said so yet.
func (c *labCluster) metaLeader() int { return c.leader.get() }

// metaLeaders follows the embedded servers' notices about the meta leader
// in the nodes' logs: a client of the global account cannot ask for it.
type metaLeaders struct {
	mu   sync.Mutex
	node int
	set  bool
}

func (m *metaLeaders) saw(node int) {
	m.mu.Lock()
	m.node, m.set = node, true
	m.mu.Unlock()
}

func (m *metaLeaders) get() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.set {
		return -1
	}
	return m.node
}

// labLog passes a node's warnings and errors on to out and watches its
// debug lines for the embedded server saying it became the meta leader.
type labLog struct {
	node    int
	out     io.Writer
	leaders *metaLeaders

	mu   sync.Mutex
	part []byte
}

func (l *labLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	last := bytes.LastIndexByte(l.part, '\n')
	if last < 0 {
		if len(l.part) > 1<<20 {
			l.part = l.part[:0] // no line is that long: drop it
		}
		return len(b), nil
	}
	for _, line := range strings.Split(string(l.part[:last]), "\n") {
		if strings.Contains(line, "Self is new JetStream cluster metadata leader") {
			l.leaders.saw(l.node)
		}
		if l.out != nil && (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) {
			_, _ = fmt.Fprintf(l.out, "node%d: %s\n", l.node+1, line)
		}
	}
	l.part = append(l.part[:0], l.part[last+1:]...)
	return len(b), nil
}
