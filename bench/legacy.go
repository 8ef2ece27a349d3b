package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/protocols/legacy"
)

// The legacy scenario holds old ws-star clients (libp2p-websocket-star 0.10,
// socket.io 2) on the node: each is one socket.io client of
// protocols/legacy, joined with the crypto challenge and an Ed25519 key, that
// pings as socket.io 2 does and otherwise only counts the ws-peer events of
// the probe being timed. Events are handled in the socket's read loop, so a
// held peer costs the generator one goroutine and its connection.

// LegacyOptions sizes the legacy scenario.
type LegacyOptions struct {
	// Peers is the number of old clients held.
	Peers int
	// Probes is the number of probe joins timed one after another.
	Probes int
	// Idle is the window over which the node's idle cost is measured.
	Idle time.Duration
	// Concurrency is the number of joins in flight during the ramp.
	Concurrency int
	// Keys is a file of peer keys to reuse ("" generates them).
	Keys string
	// StepTimeout bounds one peer's connect+join and one probe's wait for
	// every held peer.
	StepTimeout time.Duration
	// Progress receives the phases as they run; nil reports none.
	Progress *Progress
}

func (o *LegacyOptions) defaults() {
	if o.Peers <= 0 {
		o.Peers = 1000
	}
	if o.Probes <= 0 {
		o.Probes = 20
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
}

// legacyPerIP is how many held sockets share one loopback source address:
// below the node's default legacy.max_sockets_per_ip (64), so that the
// scenario runs against a node with default limits.
const legacyPerIP = 32

// legacyProbe is the probe being timed: how many held peers still have to
// see its ws-peer.
type legacyProbe struct {
	want  []byte // the probe's address as a JSON string
	start time.Time
	left  atomic.Int64
	last  atomic.Int64 // ns after start of the last ws-peer seen
	done  chan struct{}
}

// legacyPeer is one held old client.
type legacyPeer struct {
	c    *legacy.Client
	addr string
	got  atomic.Pointer[legacyProbe]
}

// legacySwarm is the scenario's old clients.
type legacySwarm struct {
	base     string // ws://host:port
	host     string
	port     string
	spreadIP bool // the node is on 127.0.0.1: spread sources over 127/8

	probe atomic.Pointer[legacyProbe]

	mu       sync.Mutex
	peers    []*legacyPeer
	failures atomic.Int64
	firstErr error
	connect  Latencies
	join     Latencies
}

func newLegacySwarm(info peer.AddrInfo) (*legacySwarm, error) {
	for _, a := range info.Addrs {
		if _, err := a.ValueForProtocol(ma.P_WS); err != nil {
			continue
		}
		if _, err := a.ValueForProtocol(ma.P_TLS); err == nil {
			continue
		}
		_, hostPort, err := manet.DialArgs(a)
		if err != nil {
			continue
		}
		host, port, err := net.SplitHostPort(hostPort)
		if err != nil || net.ParseIP(host) == nil || net.ParseIP(host).To4() == nil {
			continue
		}
		return &legacySwarm{base: "ws://" + hostPort, host: host, port: port, spreadIP: host == "127.0.0.1"}, nil
	}
	return nil, errors.New("bench: the node has no plain /ip4/.../ws address for old clients")
}

func (s *legacySwarm) fail(err error) {
	s.failures.Add(1)
	s.mu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	s.mu.Unlock()
}

func (s *legacySwarm) held() []*legacyPeer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers
}

// dialer is the TCP dialer of the i-th socket: a loopback source address
// per legacyPerIP sockets when the node is on 127.0.0.1.
func (s *legacySwarm) dialer(src net.IP) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	if s.spreadIP && src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	return d.DialContext
}

func srcIP(group int) net.IP {
	return net.IPv4(127, byte(1+group/250), byte(group%250), 1)
}

// addrOf is the ws-star address of key on the node, as the old clients
// form it.
func (s *legacySwarm) addrOf(k crypto.PrivKey) (string, error) {
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/ip4/%s/tcp/%s/ws/p2p-websocket-star/ipfs/%s", s.host, s.port, id), nil
}

// legacyJoin runs ss-join with the crypto challenge, as libp2p-websocket-star
// does, and returns how many other addresses the node listed.
func legacyJoin(ctx context.Context, c *legacy.Client, k crypto.PrivKey, addr string) (int, error) {
	pub, err := crypto.MarshalPublicKey(k.GetPublic())
	if err != nil {
		return 0, err
	}
	res, err := c.Call(ctx, "ss-join", addr, hex.EncodeToString(pub))
	if err != nil {
		return 0, err
	}
	if e := ackError(res); e != "" {
		return 0, fmt.Errorf("ss-join: %s", e)
	}
	var nonce string
	if len(res) < 2 || json.Unmarshal(res[1], &nonce) != nil || nonce == "" {
		return 0, errors.New("ss-join: no nonce in the answer")
	}
	sig, err := k.Sign([]byte(nonce))
	if err != nil {
		return 0, err
	}
	res, err = c.Call(ctx, "ss-join", addr, hex.EncodeToString(sig))
	if err != nil {
		return 0, err
	}
	if e := ackError(res); e != "" {
		return 0, fmt.Errorf("ss-join with the signature: %s", e)
	}
	if len(res) < 3 {
		return 0, errors.New("ss-join: no peer list in the answer")
	}
	return countJSONStrings(res[2]), nil
}

func ackError(res []json.RawMessage) string {
	if len(res) == 0 || string(res[0]) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(res[0], &s) != nil {
		return string(res[0])
	}
	return s
}

// countJSONStrings counts the elements of a JSON array of multiaddr strings
// without decoding it (they hold no quotes or commas): the list a joiner
// gets is about 100 bytes per joined peer.
func countJSONStrings(raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '[' || bytes.Equal(raw, []byte("[]")) {
		return 0
	}
	return bytes.Count(raw, []byte(`","`)) + 1
}

// onEvent is a held peer's event handler: it counts the ws-peer of the
// probe being timed, once.
func (s *legacySwarm) onEvent(lp *legacyPeer) func(legacy.Event) {
	return func(e legacy.Event) {
		if e.Name != "ws-peer" || len(e.Args) == 0 {
			return
		}
		pr := s.probe.Load()
		if pr == nil || !bytes.Equal(e.Args[0], pr.want) || lp.got.Swap(pr) == pr {
			return
		}
		pr.last.Store(int64(time.Since(pr.start)))
		if pr.left.Add(-1) == 0 {
			close(pr.done)
		}
	}
}

// up connects and joins one held peer.
func (s *legacySwarm) up(ctx context.Context, i int, k crypto.PrivKey, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr, err := s.addrOf(k)
	if err != nil {
		return err
	}
	lp := &legacyPeer{addr: addr}
	t0 := time.Now()
	c, err := legacy.DialClientWith(ctx, s.base, legacy.ClientOptions{
		Dial: s.dialer(srcIP(i / legacyPerIP)), OnEvent: s.onEvent(lp),
	})
	if err != nil {
		return err
	}
	t1 := time.Now()
	if _, err := legacyJoin(ctx, c, k, addr); err != nil {
		_ = c.Close()
		return err
	}
	s.connect.Add(t1.Sub(t0))
	s.join.Add(time.Since(t1))
	lp.c = c
	s.mu.Lock()
	s.peers = append(s.peers, lp)
	s.mu.Unlock()
	return nil
}

// ramp brings up one held peer per key with concurrency joins in flight.
func (s *legacySwarm) ramp(ctx context.Context, keys []crypto.PrivKey, concurrency int, timeout time.Duration, prog *Task) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := s.up(ctx, i, keys[i], timeout); err != nil {
					if ctx.Err() == nil {
						s.fail(err)
						prog.Fail()
					}
					continue
				}
				prog.Add(1)
			}
		}()
	}
	for i := range keys {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
}

// pinger sends every held peer an engine.io ping every interval, the peers
// taking turns, as socket.io 2 clients do (the node closes a socket silent
// for ping_interval + ping_timeout).
func (s *legacySwarm) pinger(ctx context.Context, n int, every time.Duration) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(every/time.Duration(max(n, 1)), time.Millisecond))
		defer t.Stop()
		j := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			peers := s.held()
			if len(peers) == 0 {
				continue
			}
			_ = peers[j%len(peers)].c.Ping()
			j++
		}
	}()
	return func() { cancel(); <-done }
}

// runProbe joins one probe peer from its own source address and times
// until every held peer still connected got its ws-peer. It returns the
// time (or -1), the held peers that did not see it within timeout, and
// how many held peers the node's list to the probe lacked.
func (s *legacySwarm) runProbe(ctx context.Context, i int, k crypto.PrivKey, timeout time.Duration) (time.Duration, int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr, err := s.addrOf(k)
	if err != nil {
		return -1, 0, 0, err
	}
	want, _ := json.Marshal(addr)
	var live []*legacyPeer
	for _, lp := range s.held() {
		select {
		case <-lp.c.Done():
		default:
			live = append(live, lp)
		}
	}
	pr := &legacyProbe{want: want, done: make(chan struct{})}
	pr.left.Store(int64(len(live)))
	c, err := legacy.DialClientWith(ctx, s.base, legacy.ClientOptions{
		Dial: s.dialer(net.IPv4(127, 0, 200, byte(1+i%250))), OnEvent: func(legacy.Event) {},
	})
	if err != nil {
		return -1, 0, 0, err
	}
	defer c.Close()
	pr.start = time.Now()
	s.probe.Store(pr)
	defer s.probe.Store(nil)
	if len(live) == 0 {
		close(pr.done)
	}
	listed, err := legacyJoin(ctx, c, k, addr)
	if err != nil {
		return -1, 0, 0, err
	}
	select {
	case <-pr.done:
		return time.Duration(pr.last.Load()), 0, max(len(live)-listed, 0), nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return -1, int(pr.left.Load()), max(len(live)-listed, 0), nil
		}
		return -1, 0, 0, ctx.Err()
	}
}

// closeAll closes every held peer.
func (s *legacySwarm) closeAll(concurrency int, prog *Task) {
	peers := s.held()
	next := make(chan *legacyPeer)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lp := range next {
				_ = lp.c.Close()
				prog.Add(1)
			}
		}()
	}
	for _, lp := range peers {
		next <- lp
	}
	close(next)
	wg.Wait()
}

// Legacy holds o.Peers old ws-star clients on the node (socket.io 2, crypto
// challenge, Ed25519 keys), times probe joins until every held peer has
// been told of them, then measures the node with every client connected and
// pinging as socket.io 2 does.
func Legacy(ctx context.Context, t *Target, o LegacyOptions) (*Report, error) {
	o.defaults()
	r := newReport("legacy", t.Kind, map[string]any{
		"peers": o.Peers, "probes": o.Probes, "idle": o.Idle.String(), "concurrency": o.Concurrency,
		"ping_every": legacy.DefaultPingInterval.String(),
	})
	s, err := newLegacySwarm(t.Info)
	if err != nil {
		return nil, err
	}
	gen := SelfSampler{}
	kt := time.Now()
	keys, err := Keys(o.Keys, o.Peers+o.Probes)
	if err != nil {
		return nil, err
	}
	r.addMs("generator: key load/generation", time.Since(kt))

	base, _ := sample(t.Node)
	genBase, _ := gen.Sample()
	stopPings := s.pinger(ctx, o.Peers, legacy.DefaultPingInterval)
	defer stopPings()
	defer func() {
		cp := o.Progress.Count("closing", len(s.held()), "peers")
		s.closeAll(o.Concurrency, cp)
		cp.Done()
	}()

	t0 := time.Now()
	rp := o.Progress.Count("ramp", o.Peers, "peers")
	s.ramp(ctx, keys[:o.Peers], o.Concurrency, o.StepTimeout, rp)
	rp.Done()
	took := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	held := len(s.held())
	if held == 0 {
		return nil, fmt.Errorf("%w: %v", errNoPeers, s.firstErr)
	}
	r.add("peers held", float64(held), "peers").target(fmt.Sprintf(">= %d", o.Peers), float64(o.Peers), false)
	f := r.add("peers failed", float64(s.failures.Load()), "peers")
	if s.firstErr != nil {
		f.note("first: " + oneLine(s.firstErr))
	}
	r.add("ramp time", took.Seconds(), "s")
	r.add("join rate", float64(held)/took.Seconds(), "joins/s").
		note(fmt.Sprintf("connect + ss-join with the crypto challenge, %d in flight; old server: about 90/s", o.Concurrency))
	r.addQuantiles("  connect (socket.io handshake)", &s.connect)
	r.addQuantiles("  join (challenge, 2 round trips)", &s.join)

	// Let the ramp's last announcements land before probing.
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	var lat Latencies
	missed, short, failed := 0, 0, 0
	prog := o.Progress.Count("probes", o.Probes, "joined")
	for i := range o.Probes {
		d, miss, sh, err := s.runProbe(ctx, i, keys[o.Peers+i], o.StepTimeout)
		if ctx.Err() != nil {
			prog.Done()
			return nil, ctx.Err()
		}
		missed += miss
		short += sh
		switch {
		case err != nil:
			failed++
			prog.Fail()
			if s.firstErr == nil {
				s.fail(err)
			}
		case d >= 0:
			lat.Add(d)
			prog.Add(1)
		default:
			prog.Add(1)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			prog.Done()
			return nil, err
		}
	}
	prog.Done()
	_, p99 := r.addQuantiles("seen-by-all", &lat)
	p99.target("<= 250 ms", 250, true).note("old server: 14 / 75 ms at 750 peers, 2–5 s at 1,000 (saturated)")
	if lat.Len() > 0 {
		r.addMs("seen-by-all max", lat.Quantile(1))
	}
	r.addSamples("seen-by-all", &lat)
	f = r.add("probes incomplete", float64(o.Probes-lat.Len()), "probes").target("0", 0, true)
	if failed > 0 || missed > 0 {
		f.note(fmt.Sprintf("%d failed to join; %d held-peer notifications missing after %s", failed, missed, o.StepTimeout))
	}
	r.add("held peers missing from a probe's list", float64(short), "entries").target("0", 0, true)

	// Idle window.
	na, nerr := sample(t.Node)
	ga, _ := gen.Sample()
	if err := o.Progress.Sleep(ctx, "idle window", o.Idle); err != nil {
		return nil, err
	}
	nb, _ := sample(t.Node)
	gb, _ := gen.Sample()
	dropped := 0
	for _, lp := range s.held() {
		select {
		case <-lp.c.Done():
			dropped++
		default:
		}
	}
	r.add("held peers closed by the node", float64(dropped), "peers").target("0", 0, true)
	if t.MetricsURL != "" {
		if v, err := scrapeGauge(t.MetricsURL, "rendezvous_legacy_members"); err == nil {
			r.add("legacy members after the idle window", v, "members").
				target(fmt.Sprintf(">= %d", held), float64(held), false)
		}
	}
	idleCPU, rss, perPeer, gor := math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if nerr == nil && t.Node != nil {
		idleCPU = CPUPercent(na, nb)
		rss = float64(nb.RSS) / (1 << 20)
		perPeer = (float64(nb.RSS) - float64(base.RSS)) / float64(held) / 1024
		if nb.Goroutines >= 0 {
			gor = float64(nb.Goroutines)
		}
	}
	shared := ""
	if t.Shared {
		shared = "in-process node: includes the generator"
	}
	f = r.add("node CPU, idle peers", idleCPU, "% of 1 core")
	if shared != "" {
		f.note(shared)
	} else {
		f.target("<= 10 %", 10, true).note(fmt.Sprintf("engine.io pings every %s per peer; old server: 70 %% at 750 peers, saturated near 900", legacy.DefaultPingInterval))
	}
	r.add("node RSS, idle peers", rss, "MiB").note(strings.TrimSpace(shared + " old server: 130–150 MiB"))
	r.add("node RSS per peer", perPeer, "KiB").note(shared)
	r.add("node goroutines", gor, "").note(shared)
	r.add("generator CPU, idle peers", CPUPercent(ga, gb), "% of 1 core")
	r.add("generator RSS", float64(gb.RSS)/(1<<20), "MiB")
	r.add("generator CPU, whole run", (gb.CPU - genBase.CPU).Seconds(), "s")
	return r.finish(), nil
}
