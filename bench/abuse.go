package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/promtext"
	"github.com/ws-star/rendezvous/node/capacity"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
)

// AbuseScenarios are the attacks of the abuse suite, in the order they run.
// register-flood is last: rendezvous registrations outlive their peers'
// connections (presence_grace, or their TTL), so the namespaces it fills
// stay full for the phases after it.
var AbuseScenarios = []string{
	"slowloris", "oversize", "stream-flood", "join-flood", "reservation-flood",
	"circuit-flood", "stuck-reader", "http", "tls-slowloris", "h2c", "pubsub-flood", "register-flood",
}

// AbuseOptions sizes the abuse suite.
type AbuseOptions struct {
	// Peers is the honest population, up during every attack.
	Peers int
	// NSSize is the number of honest peers per namespace.
	NSSize int
	// Probes is the number of honest joins timed in each phase.
	Probes int
	// Concurrency is the number of start-ups in flight (honest and attackers).
	Concurrency int
	// Scenarios to run (default all of AbuseScenarios).
	Scenarios []string
	// Attackers is the number of attacking peer IDs of the floods.
	Attackers int
	// Conns is the number of stalled connections of each slowloris kind.
	Conns int
	// AttackerIP is the loopback source address of the raw connections of
	// slowloris and http. A started node trusts only 127.0.0.1 (and ::1)
	// then, so the per-IP caps apply to any other source.
	AttackerIP string
	// Hold is how long after opening the stalled connections must be gone.
	Hold time.Duration
	// Window is the least time an attack lasts once it is under way.
	Window time.Duration
	// Capacity is the capacity.peers a started node is sized for (0: the
	// honest peers plus half); its memory budget follows from it.
	Capacity int
	// StepTimeout bounds one honest start-up and one probe.
	StepTimeout time.Duration
	// AnnounceInterval is the node's pubsub announce_interval: a node the
	// tool starts gets it when it is set (a flag asks for it), and
	// pubsub-flood gives honest apps two of it to learn each other (0: the
	// node's default).
	AnnounceInterval time.Duration
	// Keys is a file of honest peer keys to reuse.
	Keys     string
	Progress *Progress
}

func (o *AbuseOptions) defaults() {
	if o.Peers <= 0 {
		o.Peers = 2000
	}
	if o.NSSize <= 0 {
		o.NSSize = 50
	}
	if o.Probes <= 0 {
		o.Probes = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = AbuseScenarios
	}
	if o.Attackers <= 0 {
		o.Attackers = 200
	}
	if o.Conns <= 0 {
		o.Conns = 500
	}
	if o.AttackerIP == "" {
		o.AttackerIP = "127.0.0.2"
	}
	if o.Hold <= 0 {
		o.Hold = 20 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 5 * time.Second
	}
	if o.Capacity <= 0 {
		o.Capacity = max(o.Peers+o.Peers/2, config.MinPeers)
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
}

// CheckAbuseScenarios refuses unknown scenario names.
func CheckAbuseScenarios(names []string) error {
	for _, n := range names {
		if !slices.Contains(AbuseScenarios, n) {
			return fmt.Errorf("unknown abuse scenario %q (want %s)", n, strings.Join(AbuseScenarios, ", "))
		}
	}
	return nil
}

// AbuseConfig sizes a node the tool starts for the abuse suite: capacity
// from o, and the default per-peer rendezvous rate limit (the bench
// configuration raises it to measure the server).
func AbuseConfig(o AbuseOptions) func(*config.Config) {
	o.defaults()
	return func(c *config.Config) {
		c.Capacity.Peers = o.Capacity
		d := config.Default()
		c.Rendezvous.RequestRate = d.Rendezvous.RequestRate
		c.Rendezvous.RequestBurst = d.Rendezvous.RequestBurst
		if o.AttackerIP != honestIP {
			c.Resources.TrustedSubnets = []string{honestIP + "/32", "::1/128"}
		}
		PubsubConfig(o.AnnounceInterval)(c)
		if slices.Contains(o.Scenarios, "tls-slowloris") && c.TLS.CertFile == "" {
			// Without it the attack reports that it found no TLS listener.
			_ = addTLSListener(c)
		}
	}
}

// honestIP is where the honest peers and the attacking libp2p hosts come from.
const honestIP = "127.0.0.1"

// CheckAttackerIP accepts a loopback IPv4 address.
func CheckAttackerIP(s string) error {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() || !ip.IsLoopback() {
		return fmt.Errorf("attacker IP %q: want an IPv4 loopback address (127.0.0.0/8)", s)
	}
	return nil
}

// abuseEnv is what every attack runs against.
type abuseEnv struct {
	t     *Target
	o     AbuseOptions
	s     *swarm
	peers []*livePeer
	// keys of the probes, one slice per phase.
	probeKeys [][]crypto.PrivKey
	// tlsAddrs are the node's TLS WebSocket addresses the tool was given;
	// the honest peers and the attacking hosts dial the others.
	tlsAddrs []ma.Multiaddr

	mu    sync.Mutex
	hosts []host.Host // attacker hosts, closed after each phase
}

// attack is one scenario: run attacks until stop is closed (or for as long
// as it needs to check what it checks), closing ready once under way, and
// records what the attacker got back in res.
type attack func(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{})

// attackResult is what the attacker got back, and checks of its own.
type attackResult struct {
	mu       sync.Mutex
	outcomes map[string]int64
	firstErr map[string]string
	checks   []Figure
}

func newAttackResult() *attackResult {
	return &attackResult{outcomes: make(map[string]int64), firstErr: make(map[string]string)}
}

// count records one attempt's outcome (see outcomeOf).
func (a *attackResult) count(what string, err error) string {
	k := outcomeOf(err)
	a.countAs(what, k, err)
	return k
}

func (a *attackResult) countAs(what, k string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes[what+": "+k]++
	if err != nil && a.firstErr[what+": "+k] == "" {
		a.firstErr[what+": "+k] = oneLine(err)
	}
}

// check adds a scenario-specific figure with a target.
func (a *attackResult) check(name string, v float64, unit, target string, limit float64, atMost bool, note string) {
	f := Figure{Name: name, Value: v, Unit: unit, Note: note}
	if target != "" {
		f.target(target, limit, atMost)
	}
	a.mu.Lock()
	a.checks = append(a.checks, f)
	a.mu.Unlock()
}

// hangs are attempts that got no answer (status, close or reset) in time.
func (a *attackResult) hangs() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for k, v := range a.outcomes {
		if strings.HasSuffix(k, ": "+outcomeTimeout) {
			n += v
		}
	}
	return n
}

func (a *attackResult) summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]string, 0, len(a.outcomes))
	for k := range a.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, a.outcomes[k])
		if e := a.firstErr[k]; e != "" && !strings.Contains(k, "status") {
			parts[i] += " (" + e + ")"
		}
	}
	return strings.Join(parts, "; ")
}

const (
	outcomeOK      = "ok"
	outcomeClosed  = "closed"
	outcomeReset   = "reset"
	outcomeTimeout = "timeout"
)

// outcomeOf names what an attempt got back: ok, a protocol status, closed
// (EOF), reset, refused (stream or connection refused), or timeout (no
// answer in time: a hang).
func outcomeOf(err error) string {
	var ws *wsstar.StatusError
	var rs *rendezvous.StatusError
	var re client.ReservationError
	var rep *client.ReservationError
	var ne net.Error
	switch {
	case err == nil:
		return outcomeOK
	case errors.As(err, &ws):
		return "status " + ws.Status.String()
	case errors.As(err, &rs):
		return "status " + rs.Status.String()
	case errors.As(err, &rep):
		return "status " + rep.Status.String()
	case errors.As(err, &re):
		return "status " + re.Status.String()
	case errors.Is(err, network.ErrReset), errors.Is(err, network.ErrResourceLimitExceeded),
		strings.Contains(err.Error(), "reset"):
		return outcomeReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		strings.Contains(err.Error(), "closed"):
		return outcomeClosed
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return outcomeTimeout
	}
	return "error"
}

// Abuse ramps the honest population, times honest probe joins without an
// attack, then under each attack in turn, and reports per attack what the
// honest peers, the node and the attacker saw.
func Abuse(ctx context.Context, t *Target, o AbuseOptions) (*Report, error) {
	o.defaults()
	if err := CheckAbuseScenarios(o.Scenarios); err != nil {
		return nil, err
	}
	r := newReport("abuse", t.Kind, map[string]any{
		"peers": o.Peers, "ns_size": o.NSSize, "probes": o.Probes, "scenarios": strings.Join(o.Scenarios, ","),
		"attackers": o.Attackers, "conns": o.Conns, "attacker_ip": o.AttackerIP, "hold": o.Hold.String(), "window": o.Window.String(),
		"capacity": o.Capacity, "announce_interval": o.AnnounceInterval.String(),
	})
	phases := 1 + len(o.Scenarios)
	keys, err := Keys(o.Keys, o.Peers+phases*o.Probes)
	if err != nil {
		return nil, err
	}
	plain := *t
	plain.Info.Addrs = nil
	var tlsAddrs []ma.Multiaddr
	for _, a := range t.Info.Addrs {
		if isTLSWS(a) {
			tlsAddrs = append(tlsAddrs, a)
		} else {
			plain.Info.Addrs = append(plain.Info.Addrs, a)
		}
	}
	t = &plain
	e := &abuseEnv{t: t, o: o, s: newSwarm(t.Info), tlsAddrs: tlsAddrs}
	for i := range phases {
		at := o.Peers + i*o.Probes
		e.probeKeys = append(e.probeKeys, keys[at:at+o.Probes])
	}
	pop, err := rampUp(ctx, e.s, keys[:o.Peers], rampOptions{Concurrency: o.Concurrency, StepTimeout: o.StepTimeout, NSSize: o.NSSize, Progress: o.Progress})
	defer pop.close()
	if err != nil {
		return nil, err
	}
	e.peers = pop.live()
	pop.reportRamp(r)
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}

	budget := math.NaN()
	if t.Kind != "external" {
		c := config.Default()
		c.Capacity.Peers = o.Capacity
		budget = float64(capacity.MemoryLimit(c)) / (1 << 20)
	} else if t.MetricsURL != "" {
		if v, err := scrapeGauge(t.MetricsURL, "go_gc_gomemlimit_bytes"); err == nil && v < 1<<50 {
			budget = v / (1 << 20)
		}
	}
	r.add("memory budget", budget, "MiB").note(fmt.Sprintf("GC memory limit of capacity.peers = %d", o.Capacity))

	o.Progress.Logf("baseline: no attack")
	base, err := e.phase(ctx, 0, "baseline", nil)
	if err != nil {
		return nil, err
	}
	basep99 := base.lat.Quantile(0.99)
	r.addQuantiles("baseline: honest join-to-visible", base.lat)
	r.add("baseline: node RSS max", base.rssMax, "MiB").target(fmt.Sprintf("<= %.0f MiB", budget), budget, true)
	r.add("baseline: node CPU", base.cpu, "% of 1 core")
	r.add("baseline: node connections", base.connsBefore, "conns").
		target(fmt.Sprintf("<= %d", len(e.peers)+1), float64(len(e.peers)+1), true).
		note(fmt.Sprintf("%d honest peers, and the HTTP connection of this scrape: the node counts every TCP connection to its port", len(e.peers)))
	limit := math.NaN()
	if basep99 >= 0 {
		limit = max(2*float64(basep99.Microseconds())/1000, 10)
	}
	for i, name := range o.Scenarios {
		o.Progress.Logf("attack %s", name)
		ph, err := e.phase(ctx, i+1, name, abuseAttacks[name])
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		ph.report(r, name, limit, budget, len(e.peers), t.Shared)
	}
	return r.finish(), nil
}

var abuseAttacks = map[string]attack{
	"slowloris":         slowloris,
	"oversize":          oversize,
	"stream-flood":      streamFlood,
	"join-flood":        joinFlood,
	"register-flood":    registerFlood,
	"reservation-flood": reservationFlood,
	"stuck-reader":      stuckReader,
	"http":              httpAbuse,
	"tls-slowloris":     tlsSlowloris,
	"h2c":               h2cAbuse,
	"circuit-flood":     circuitFlood,
	"pubsub-flood":      pubsubFlood,
}

// phaseResult is what one phase measured.
type phaseResult struct {
	lat                       *Latencies
	expected, missing, failed int
	rssMax, cpu               float64
	up                        bool
	upNote                    string
	conns                     float64 // node connections after the attack settled
	overflows, closedViews    int64   // honest views ended during the phase
	res                       *attackResult
	attackSecs                float64
	probeErr                  string
	connsBefore               float64 // node connections before the attack
}

// phase runs one attack (nil: none) and times the honest probes under it.
func (e *abuseEnv) phase(ctx context.Context, i int, name string, a attack) (*phaseResult, error) {
	ph := &phaseResult{rssMax: math.NaN(), cpu: math.NaN(), conns: math.NaN(), res: newAttackResult()}
	ov0, cv0 := e.s.overflows.Load(), e.s.closedViews.Load()
	if e.t.MetricsURL != "" {
		if v, err := scrapeSeries(e.t.MetricsURL, connsMetric); err == nil {
			ph.connsBefore = v
		}
	}
	n0, nerr := sample(e.t.Node)
	var rssMax atomic.Uint64
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if s, err := sample(e.t.Node); err == nil && s.RSS > rssMax.Load() {
				rssMax.Store(s.RSS)
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	ready := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	if a == nil {
		close(ready)
		close(done)
	} else {
		go func() {
			defer close(done)
			a(ctx, e, ph.res, ready, stop)
		}()
		select {
		case <-ready:
		case <-done:
		case <-time.After(60 * time.Second):
			ph.res.check(name+": attack under way within 60 s", 0, "", ">= 1", 1, false, "")
		case <-ctx.Done():
		}
	}
	co := CapacityOptions{Peers: e.o.Peers, NSSize: e.o.NSSize, Probes: e.o.Probes, Progress: e.o.Progress.With(name)}
	pr, err := co.timeProbes(ctx, func(k int, ns string) (time.Duration, int, int, error) {
		lat, exp, miss, err := e.s.runProbe(ctx, e.probeKeys[i][k], ns, e.o.StepTimeout)
		if err != nil && ph.probeErr == "" {
			ph.probeErr = "first: " + oneLine(err)
		}
		return lat, exp, miss, err
	})
	if err != nil {
		close(stop)
		<-done
		stopSampling()
		return nil, err
	}
	ph.lat, ph.expected, ph.missing, ph.failed = &pr.lat, pr.expected, pr.missing, pr.failed
	if a != nil {
		_ = sleep(ctx, time.Until(start.Add(e.o.Window)))
	}
	close(stop)
	<-done
	ph.attackSecs = time.Since(start).Seconds()
	n1, _ := sample(e.t.Node)
	stopSampling()
	<-sampled
	e.closeAttackers()
	if nerr == nil && e.t.Node != nil {
		ph.cpu = CPUPercent(n0, n1)
		ph.rssMax = float64(rssMax.Load()) / (1 << 20)
	}
	ph.up, ph.upNote = nodeUp(e.t)
	if a != nil && e.t.MetricsURL != "" {
		ph.conns = e.settleConns(ctx, max(len(e.peers)+1, int(ph.connsBefore)))
	}
	ph.overflows = e.s.overflows.Load() - ov0
	ph.closedViews = e.s.closedViews.Load() - cv0
	return ph, ctx.Err()
}

// connsMetric is the node's connection count (inbound and outbound) from
// its resource manager, as /metrics exposes it.
var connsMetric = promtext.Series{Name: "rendezvous_resources_used", Labels: []string{"resource", "connections", "scope", "system"}}

// settleConns waits up to 20 s for the node's connection count to come back
// to want (the live honest peers) and returns the last count seen.
func (e *abuseEnv) settleConns(ctx context.Context, want int) float64 {
	last := math.NaN()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if v, err := scrapeSeries(e.t.MetricsURL, connsMetric); err == nil {
			last = v
			if v <= float64(want) {
				return v
			}
		}
		if time.Now().After(deadline) || sleep(ctx, 250*time.Millisecond) != nil {
			return last
		}
	}
}

// nodeUp asks the node's /healthz, and whether its process still runs.
func nodeUp(t *Target) (bool, string) {
	if t.MetricsURL == "" {
		return false, "no HTTP endpoint known"
	}
	url := strings.TrimSuffix(t.MetricsURL, "/metrics") + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return false, oneLine(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, resp.Status
	}
	return true, ""
}

// report adds the phase's rows: honest latency against the baseline, the
// node's cost and state, the attacker's outcomes and the scenario's checks,
// then one pass row.
func (ph *phaseResult) report(r *Report, name string, limitMs, budget float64, honest int, shared bool) {
	first := len(r.Figures)
	_, p99 := r.addQuantiles(name+": honest join-to-visible", ph.lat)
	p99.target(fmt.Sprintf("<= %.1f ms (2 × baseline, at least 10)", limitMs), limitMs, true)
	r.add(name+": honest probes failed", float64(ph.failed), "probes").target("= 0", 0, true).note(ph.probeErr)
	r.add(name+": honest probe views missed", float64(ph.missing), "views").target("= 0", 0, true)
	r.add(name+": honest views closed", float64(ph.closedViews), "views").
		target("= 0", 0, true).note(fmt.Sprintf("%d by OVERFLOW", ph.overflows))
	up := 0.0
	if ph.up {
		up = 1
	}
	r.add(name+": node up after", up, "").target("= 1", 1, false).note(ph.upNote)
	note := ""
	if shared {
		note = "in-process node: includes the generator"
	}
	r.add(name+": node RSS max", ph.rssMax, "MiB").target(fmt.Sprintf("<= %.0f MiB", budget), budget, true).note(note)
	r.add(name+": node CPU", ph.cpu, "% of 1 core").note(fmt.Sprintf("over %.1f s of attack; %s", ph.attackSecs, note))
	if !math.IsNaN(ph.conns) {
		want := max(float64(honest+1), ph.connsBefore)
		r.add(name+": node connections after", ph.conns, "conns").
			target(fmt.Sprintf("<= %.0f", want), want, true).
			note(fmt.Sprintf("within 20 s of the attack's end; %d honest peers live (+1: the scrape), %.0f connections before the attack", honest, ph.connsBefore))
	}
	r.add(name+": attacker hangs", float64(ph.res.hangs()), "attempts").target("= 0", 0, true).
		note("got no status, close or reset in time")
	r.add(name+": attacker outcomes", float64(ph.res.total()), "attempts").note(ph.res.summary())
	ph.res.mu.Lock()
	r.Figures = append(r.Figures, ph.res.checks...)
	ph.res.mu.Unlock()
	pass := 1.0
	for _, f := range r.Figures[first:] {
		if f.Met != nil && !*f.Met {
			pass = 0
		}
		if f.Target != "" && f.Met == nil && !strings.HasSuffix(f.Name, "node RSS max") {
			pass = 0 // a checked figure that could not be measured
		}
	}
	r.add(name+": pass", pass, "").target("= 1", 1, false)
}

func (a *attackResult) total() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for _, v := range a.outcomes {
		n += v
	}
	return n
}

// attackers starts n attacking hosts with fresh keys, connected to the node
// (those that cannot connect are counted under what), at most conc at once.
func (e *abuseEnv) attackers(ctx context.Context, n int, what string, res *attackResult) []host.Host {
	return e.attackersWith(ctx, n, what, res, yamux.DefaultTransport)
}

// attackersWith is attackers with the hosts' yamux settings.
func (e *abuseEnv) attackersWith(ctx context.Context, n int, what string, res *attackResult, mux *yamux.Transport) []host.Host {
	keys, err := Keys("", n)
	if err != nil {
		res.count(what, err)
		return nil
	}
	out := make([]host.Host, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(e.o.Concurrency, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				h, err := newPeerWith(keys[i], false, mux)
				if err != nil {
					res.count(what, err)
					continue
				}
				e.track(h)
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err = connect(cctx, h, e.t.Info)
				cancel()
				if err != nil {
					res.count(what, err)
					continue
				}
				out[i] = h
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(out, func(h host.Host) bool { return h == nil })
}

func (e *abuseEnv) track(h host.Host) {
	e.mu.Lock()
	e.hosts = append(e.hosts, h)
	e.mu.Unlock()
}

// closeAttackers closes every attacking host of the phase.
func (e *abuseEnv) closeAttackers() {
	e.mu.Lock()
	hs := e.hosts
	e.hosts = nil
	e.mu.Unlock()
	var wg sync.WaitGroup
	ch := make(chan host.Host)
	for range max(e.o.Concurrency, 1) {
		wg.Go(func() {
			for h := range ch {
				_ = h.Close()
			}
		})
	}
	for _, h := range hs {
		ch <- h
	}
	close(ch)
	wg.Wait()
}

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
