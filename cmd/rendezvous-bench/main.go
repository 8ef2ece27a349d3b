// Command rendezvous-bench drives a rendezvous node with many real libp2p
// peers over loopback WebSockets and reports capacity, discovery latency,
// relay throughput and cost per peer. See docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ws-star/rendezvous/bench"
	"github.com/ws-star/rendezvous/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: rendezvous-bench <scenario> [flags]

Scenarios:
  capacity     ramp to --peers live peers (connect, relay reservation, /ws-star/1.0.0
               join with announce), time probe joins, then measure the node idle
  sweep        capacity at each size of --peers N1,N2,... in turn (a fresh node per
               size unless --node), one row per size: RSS and idle CPU per peer,
               join-to-visible, connect; --plot DIR also writes SVG charts
  churn        hold --peers while --rate peers/s leave and new ones join for --duration
  restart      hold --peers members that reconnect on their own, stop the node started
               from --node-bin (required) with SIGTERM (--kill: SIGKILL), start it again
               with the same identity and port, time until every member is back
  legacy       hold --peers old ws-star clients (socket.io 2, crypto challenge, Ed25519)
               at /socket.io/, time --probes probe joins until every held client got
               their ws-peer, then measure the node idle with the clients pinging
  relay        stream throughput through the relay versus directly, --pairs at once
  rendezvous   REGISTER and DISCOVER operations per second with --clients clients
  cluster      start --nodes nodes of one embedded cluster from --node-bin (required),
               spread --peers over them round-robin, time probe joins as seen from
               the other nodes, measure every node idle, SIGKILL the last node and
               time the LEFT of its peers on the survivors (ghosts after 15 s); with
               --baseline, then one node without cluster with --peers/--nodes peers
  cluster-faults
               three embedded nodes from --node-bin (required), each in a network
               namespace of its own on a bridge the tool builds (needs root), --peers
               (default 300) over them, churning --rate (default 5) peers/s; then the
               faults of --scenario in turn: partition (node 3 cut off for --duration,
               default 60s), stream-leader and meta-leader (SIGKILL, restart),
               all-kill (every node SIGKILLed while registrations are written); or
               latency alone (routes relayed through the tool: 100 ms between nodes,
               then node 3 at 500 ms); loss (the same relays at 100 ms, and 5 % of
               the packets between the nodes dropped with nft); the churn audit
               (lost events, ghosts, duplicates) at the end
  pubsub       ramp to --peers pubsub-peer-discovery apps (gossipsub, relay reservation,
               one discovery topic, an announcement every --interval, pings every
               --ping-every), count the distinct others each learns from the node's
               announcements within 1, 2 and 3 intervals, and whether it keeps learning,
               over --windows intervals that are also the idle window; then --probes
               newcomers; with --compare, the same number of ws-star members (capacity,
               one namespace, same pings) on a fresh node for the CPU ratio. --peers
               N1,N2,... runs each size in turn and adds the rows across sizes
  abuse        hold --peers honest peers (default 2000) and time their joins without
               an attack, then under each --scenario in turn (default all: slowloris,
               oversize, stream-flood, join-flood, reservation-flood, circuit-flood,
               stuck-reader, http, tls-slowloris, h2c, pubsub-flood, register-flood); per attack: honest join-to-visible p99 against
               the baseline, node up, RSS against its memory budget, CPU, and what
               the attacker got back

Without --node the tool starts the node: the binary given by --node-bin as a
child process, else in this process (node figures then include the generator).
Progress goes to standard error (one updating line on a terminal, else a line
every 5 s); the report alone goes to standard output.

Flags:
`

type opts struct {
	node, nodeBin, keys, pprof string
	plot                       string
	pid                        int
	sizes                      sizeList // --peers as given
	peers, nsSize, probes      int      // peers: the one size of a scenario other than sweep
	concurrency, clients       int
	nodes                      int
	baseline, kill             bool
	pairs                      string
	rate                       float64
	duration, idle, timeout    time.Duration
	pingEvery                  time.Duration
	transport                  bench.Transport
	jsonOut, verbose           bool
	// abuse
	scenarios        string
	attackers, conns int
	attackerIP       string
	capacity         int
	hold             time.Duration
	// pubsub
	interval, announceInterval time.Duration
	windows                    int
	verify, compare            bool
	// cluster-faults
	syncAlways bool
	configure  func(*config.Config) // of a node the tool starts
}

func newFlags(o *opts, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rendezvous-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.node, "node", "", "drive this running node (`multiaddr` ending in /p2p/<id>, loopback only)")
	fs.IntVar(&o.pid, "pid", 0, "process id of the --node, for its CPU and RSS")
	fs.StringVar(&o.nodeBin, "node-bin", "", "without --node: start this rendezvous `binary` as a child process")
	fs.StringVar(&o.pprof, "pprof", "", "a node the tool starts serves pprof on this loopback `host:port`")
	fs.StringVar(&o.keys, "keys", "", "reuse peer keys from this `file` (missing ones are generated and appended)")
	o.sizes = sizeList{1000}
	fs.Var(&o.sizes, "peers", "simulated peers (capacity, churn, cluster: over all nodes); sweep: comma-separated `sizes`, run in turn")
	fs.IntVar(&o.nodes, "nodes", 3, "cluster nodes to start (cluster)")
	fs.BoolVar(&o.baseline, "baseline", true, "also measure one node without cluster with --peers/--nodes peers (cluster)")
	fs.IntVar(&o.nsSize, "ns-size", 50, "peers per namespace; 0 puts all peers in one namespace")
	fs.IntVar(&o.probes, "probes", 20, "probe joins timed (capacity, sweep: at each size, cluster, legacy)")
	fs.DurationVar(&o.idle, "idle", 30*time.Second, "idle window with all peers connected (capacity, sweep: at each size, cluster, legacy)")
	fs.DurationVar(&o.pingEvery, "ping-every", 10*time.Second, "every peer opens an /ipfs/ping/1.0.0 stream this often after the ramp, as js-libp2p does in a browser; 0 for none, as go-libp2p peers (capacity, sweep, cluster)")
	fs.Func("transport", "what the peers dial the node over: ws (default), webrtc-direct or webtransport; a node the tool starts gets a loopback listener of it, a --node must be given by its address on it (capacity, sweep)", func(v string) error {
		t, err := bench.ParseTransport(v)
		o.transport = t
		return err
	})
	fs.BoolVar(&o.kill, "kill", false, "stop the node with SIGKILL instead of SIGTERM (restart)")
	fs.Float64Var(&o.rate, "rate", 20, "peers per second leaving, and joining (churn)")
	fs.StringVar(&o.pairs, "pairs", "1,8", "comma-separated numbers of concurrent pairs (relay)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients (rendezvous)")
	fs.DurationVar(&o.duration, "duration", 0, "churn time (default 60s), cluster-faults partition (default 60s), time per relay measurement (default 5s), rendezvous time (default 20s), least time of each abuse attack (default 5s)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "peer start-ups in flight")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "stop the whole run (a sweep: all its sizes) after this long")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&o.plot, "plot", "", "sweep: write SVG charts (RSS and idle CPU per peer against N, join-to-visible CDF per N) into this `directory`")
	fs.BoolVar(&o.verbose, "v", false, "log the node's warnings (in-process node)")
	fs.StringVar(&o.scenarios, "scenario", "", "abuse: comma-separated attacks to run (default all); cluster-faults: comma-separated faults (default partition, stream-leader, meta-leader, all-kill; latency and loss on their own or with the leader faults)")
	fs.BoolVar(&o.syncAlways, "sync-always", false, "cluster-faults: the nodes fsync every write (cluster.embedded.sync_always) instead of every cluster.embedded.sync_interval")
	fs.IntVar(&o.attackers, "attackers", 200, "abuse: attacking peer IDs of the join, register and reservation floods, circuit-flood's initiators (and half as many targets), up to 50 stuck readers and 50 churners")
	fs.IntVar(&o.conns, "conns", 500, "abuse: stalled connections of each slowloris and tls-slowloris kind (h2c: at most 16 of each kind)")
	fs.StringVar(&o.attackerIP, "attacker-ip", "127.0.0.2", "abuse: loopback source address of the slowloris, tls-slowloris, h2c and http connections; a node the tool starts trusts only 127.0.0.1, so the per-IP caps apply to any other (127.0.0.1 shows a source the caps exempt)")
	fs.DurationVar(&o.hold, "hold", 20*time.Second, "abuse: the node must have closed every stalled slowloris, tls-slowloris and h2c connection this long after it was opened")
	fs.IntVar(&o.capacity, "capacity", 0, "abuse: capacity.peers of a node the tool starts (default --peers + 50 %)")
	fs.DurationVar(&o.interval, "interval", 10*time.Second, "pubsub: every app announces itself this often (pubsub-peer-discovery's default)")
	fs.DurationVar(&o.announceInterval, "announce-interval", 0, "pubsub, abuse: the node's pubsub.announce_interval, set on a node the tool starts (default: the node's, 10s); with --node, say what that node uses")
	fs.IntVar(&o.windows, "windows", 4, "pubsub: announce intervals measured (learning and idle cost; at least 3)")
	fs.BoolVar(&o.verify, "verify-signatures", false, "pubsub: apps verify the signature of every message they receive, as real apps do (costs the generator only; nothing changes on the wire)")
	fs.BoolVar(&o.compare, "compare", true, "pubsub: also measure the same number of ws-star members in one namespace, same pings, on a fresh node")
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usage)
		newFlags(&opts{}, stderr).PrintDefaults()
		return 2
	}
	scenario := args[0]
	var o opts
	fs := newFlags(&o, stderr)
	switch scenario {
	case "abuse":
		o.sizes, o.probes = sizeList{2000}, 10
	case "pubsub":
		o.probes = 10
	case "cluster-faults":
		o.sizes, o.rate = sizeList{300}, 5
	}
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rendezvous-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	// A sweep that fails part way still prints the sizes it measured.
	r, err := runScenario(ctx, scenario, o, stderr)
	if r != nil {
		var werr error
		if o.jsonOut {
			werr = r.WriteJSON(stdout)
		} else {
			werr = r.WriteTable(stdout)
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "rendezvous-bench:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

// output is a scenario's result: a *bench.Report, or a sweep's.
type output interface {
	WriteJSON(io.Writer) error
	WriteTable(io.Writer) error
}

// report keeps a nil *bench.Report from becoming a non-nil output.
func report(r *bench.Report, err error) (output, error) {
	if r == nil {
		return nil, err
	}
	return r, err
}

func runScenario(ctx context.Context, scenario string, o opts, stderr io.Writer) (output, error) {
	if o.pingEvery < 0 {
		return nil, usageError{fmt.Errorf("--ping-every %s: want 0 (none) or a positive interval", o.pingEvery)}
	}
	if o.plot != "" && scenario != "sweep" {
		return nil, usageError{errors.New("--plot goes with sweep")}
	}
	if scenario != "sweep" && scenario != "pubsub" {
		if len(o.sizes) != 1 {
			return nil, usageError{fmt.Errorf("--peers %s: %s takes one number (a list is for sweep and pubsub)", o.sizes.String(), scenario)}
		}
		o.peers = o.sizes[0]
	}
	if o.transport != "" && o.transport != bench.TransportWS && scenario != "capacity" && scenario != "sweep" {
		return nil, usageError{fmt.Errorf("--transport %s goes with capacity or sweep; %s runs over ws", o.transport, scenario)}
	}
	prog := bench.NewProgress(stderr, "rendezvous-bench: "+scenario)
	switch scenario {
	case "capacity", "churn", "relay", "rendezvous", "legacy":
	case "restart":
		if o.node != "" || o.nodeBin == "" {
			return nil, usageError{errors.New("restart needs --node-bin (the tool stops and starts the node) and no --node")}
		}
	case "abuse":
		return runAbuse(ctx, o, prog, stderr)
	case "sweep":
		return runSweep(ctx, o, prog, stderr)
	case "pubsub":
		return report(runPubsub(ctx, o, prog, stderr))
	case "cluster":
		return report(runCluster(ctx, o, prog))
	case "cluster-faults":
		return report(runClusterFaults(ctx, o, prog))
	default:
		return nil, usageError{fmt.Errorf("unknown scenario %q (want capacity, sweep, churn, restart, relay, rendezvous, cluster, cluster-faults, pubsub, legacy or abuse)", scenario)}
	}
	pairs, err := parsePairs(o.pairs)
	if err != nil {
		return nil, usageError{err}
	}
	if o.pid != 0 && o.node == "" {
		return nil, usageError{errors.New("--pid goes with --node")}
	}
	return onTarget(ctx, o, scenario, stderr, func(ctx context.Context, t *bench.Target) (output, error) {
		return runOn(ctx, scenario, o, t, pairs, prog)
	})
}

// runOn runs one of the scenarios that take a single node.
func runOn(ctx context.Context, scenario string, o opts, t *bench.Target, pairs []int, prog *bench.Progress) (output, error) {
	switch scenario {
	case "capacity":
		return report(bench.Capacity(ctx, t, capacityOptions(o, prog)))
	case "churn":
		return report(bench.Churn(ctx, t, bench.ChurnOptions{
			Peers: o.peers, NSSize: o.nsSize, Rate: o.rate, Duration: o.duration,
			Concurrency: o.concurrency, Keys: o.keys, Progress: prog,
		}))
	case "restart":
		return report(bench.Restart(ctx, t, bench.RestartOptions{
			Peers: o.peers, NSSize: o.nsSize, Kill: o.kill, Concurrency: o.concurrency, Keys: o.keys, Progress: prog,
		}))
	case "legacy":
		return report(bench.Legacy(ctx, t, bench.LegacyOptions{
			Peers: o.peers, Probes: o.probes, Idle: o.idle, Concurrency: o.concurrency, Keys: o.keys, Progress: prog,
		}))
	case "relay":
		return report(bench.Relay(ctx, t, bench.RelayOptions{Pairs: pairs, Duration: o.duration}))
	default:
		return report(bench.Rendezvous(ctx, t, bench.RendezvousOptions{Clients: o.clients, Duration: o.duration}))
	}
}

// runAbuse runs the abuse suite against a node sized for it (or --node).
func runAbuse(ctx context.Context, o opts, prog *bench.Progress, stderr io.Writer) (output, error) {
	if o.pid != 0 && o.node == "" {
		return nil, usageError{errors.New("--pid goes with --node")}
	}
	if o.node == "" && o.nodeBin == "" {
		prog.Logf("no --node-bin: the node runs in this process, and its RSS and CPU include the attackers'")
	}
	ao := bench.AbuseOptions{
		Peers: o.peers, NSSize: o.nsSize, Probes: o.probes, Concurrency: o.concurrency,
		Attackers: o.attackers, Conns: o.conns, AttackerIP: o.attackerIP, Hold: o.hold, Window: o.duration,
		Capacity: o.capacity, AnnounceInterval: o.announceInterval, Keys: o.keys, Progress: prog,
	}
	if err := bench.CheckAttackerIP(o.attackerIP); err != nil {
		return nil, usageError{err}
	}
	if o.scenarios != "" {
		for _, s := range strings.Split(o.scenarios, ",") {
			ao.Scenarios = append(ao.Scenarios, strings.TrimSpace(s))
		}
		if err := bench.CheckAbuseScenarios(ao.Scenarios); err != nil {
			return nil, usageError{err}
		}
	}
	if o.nsSize <= 0 {
		return nil, usageError{errors.New("--ns-size: abuse needs namespaces of a size (views with room)")}
	}
	o.configure = bench.AbuseConfig(ao)
	return onTarget(ctx, o, "abuse", stderr, func(ctx context.Context, t *bench.Target) (output, error) {
		return report(bench.Abuse(ctx, t, ao))
	})
}

// runPubsub runs the pubsub scenario at each --peers size, against a fresh
// node for each part of each size unless --node names one.
func runPubsub(ctx context.Context, o opts, prog *bench.Progress, stderr io.Writer) (*bench.Report, error) {
	switch {
	case o.pid != 0 && o.node == "":
		return nil, usageError{errors.New("--pid goes with --node")}
	case o.interval <= 0:
		return nil, usageError{fmt.Errorf("--interval %s: want a positive interval", o.interval)}
	case o.announceInterval < 0:
		return nil, usageError{fmt.Errorf("--announce-interval %s: want 0 (the node's) or a positive interval", o.announceInterval)}
	case o.windows < 3:
		return nil, usageError{fmt.Errorf("--windows %d: want at least 3 (learning is counted over 1, 2 and 3 intervals)", o.windows)}
	}
	ctx, dir, done, err := prepareRun(ctx, o)
	if err != nil {
		return nil, err
	}
	defer done()
	o.configure = bench.PubsubConfig(o.announceInterval)
	var external *bench.Target
	if o.node != "" {
		if external, err = startTarget(ctx, o, dir, stderr); err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "rendezvous-bench: pubsub against external node %s\n", external.Info.ID)
	}
	return bench.PubsubSizes(ctx, o.sizes, bench.PubsubOptions{
		Interval: o.interval, AnnounceInterval: o.announceInterval, Windows: o.windows, Probes: o.probes,
		PingEvery: o.pingEvery, Verify: o.verify, Compare: o.compare, Concurrency: o.concurrency, Keys: o.keys,
		Progress: prog,
		Start: func(ctx context.Context, part string) (*bench.Target, error) {
			if external != nil {
				return external, nil
			}
			d := filepath.Join(dir, part)
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
			t, err := startTarget(ctx, o, d, stderr)
			if err == nil {
				fmt.Fprintf(stderr, "rendezvous-bench: pubsub (%s) against %s node %s\n", part, t.Kind, t.Info.ID)
			}
			return t, err
		},
	})
}

// onTarget prepares the run, connects to --node or starts the node, runs fn
// against it and stops a node it started.
func onTarget(ctx context.Context, o opts, scenario string, stderr io.Writer, fn func(context.Context, *bench.Target) (output, error)) (output, error) {
	ctx, dir, done, err := prepareRun(ctx, o)
	if err != nil {
		return nil, err
	}
	defer done()
	t, err := startTarget(ctx, o, dir, stderr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := t.Close(); err != nil {
			fmt.Fprintln(stderr, "rendezvous-bench: stopping the node:", err)
		}
	}()
	fmt.Fprintf(stderr, "rendezvous-bench: %s against %s node %s\n", scenario, t.Kind, t.Info.ID)
	return fn(ctx, t)
}

// capacityOptions are the capacity flags, shared by capacity, sweep and
// cluster.
func capacityOptions(o opts, prog *bench.Progress) bench.CapacityOptions {
	return bench.CapacityOptions{
		Peers: o.peers, NSSize: o.nsSize, Probes: o.probes, Idle: o.idle,
		Concurrency: o.concurrency, Keys: o.keys, PingEvery: o.pingEvery, Transport: o.transport, Progress: prog,
	}
}

// startTarget connects to --node or starts the node, keeping its files in dir.
func startTarget(ctx context.Context, o opts, dir string, stderr io.Writer) (*bench.Target, error) {
	logLevel := slog.LevelError
	if o.verbose {
		logLevel = slog.LevelWarn
	}
	return bench.StartTarget(ctx, bench.TargetOptions{
		Node: o.node, PID: o.pid, Binary: o.nodeBin, PprofAddr: o.pprof, Dir: dir,
		Log:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel})),
		Configure: o.configure, Transport: o.transport,
	})
}

// runSweep runs capacity at every --peers size, against a fresh node for each
// unless --node names one, and writes the --plot charts.
func runSweep(ctx context.Context, o opts, prog *bench.Progress, stderr io.Writer) (output, error) {
	if o.pid != 0 && o.node == "" {
		return nil, usageError{errors.New("--pid goes with --node")}
	}
	ctx, dir, done, err := prepareRun(ctx, o)
	if err != nil {
		return nil, err
	}
	defer done()
	var external *bench.Target
	if o.node != "" {
		if external, err = startTarget(ctx, o, dir, stderr); err != nil {
			return nil, err
		}
	}
	sr, err := bench.Sweep(ctx, bench.SweepOptions{
		CapacityOptions: capacityOptions(o, prog),
		Sizes:           o.sizes,
		Start: func(ctx context.Context, i int) (*bench.Target, error) {
			if external != nil {
				return external, nil
			}
			d := filepath.Join(dir, fmt.Sprintf("run%d", i+1))
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
			return startTarget(ctx, o, d, stderr)
		},
	})
	if sr == nil || len(sr.Rows) == 0 {
		return nil, err
	}
	if o.plot != "" {
		if perr := sr.WritePlots(o.plot); perr != nil {
			return sr, errors.Join(err, fmt.Errorf("--plot: %w", perr))
		}
		prog.Logf("charts written to %s: %s, %s, %s", o.plot, bench.PlotRSS, bench.PlotCPU, bench.PlotJoin)
	}
	return sr, err
}

// prepareRun sets up what every run needs: the file limit raised, the
// --timeout context, and a scratch directory removed by done.
func prepareRun(ctx context.Context, o opts) (context.Context, string, func(), error) {
	raiseFileLimit()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	dir, err := os.MkdirTemp("", "rendezvous-bench-")
	if err != nil {
		cancel()
		return nil, "", nil, err
	}
	return ctx, dir, func() { _ = os.RemoveAll(dir); cancel() }, nil
}

// runCluster runs the cluster scenario, which starts its own nodes.
func runCluster(ctx context.Context, o opts, prog *bench.Progress) (*bench.Report, error) {
	switch {
	case o.node != "" || o.pid != 0:
		return nil, usageError{errors.New("cluster starts its own nodes: --node and --pid do not apply")}
	case o.nodeBin == "":
		return nil, usageError{errors.New("cluster needs --node-bin (the rendezvous binary each node runs)")}
	case o.pprof != "":
		return nil, usageError{errors.New("--pprof does not apply to cluster (several nodes)")}
	case o.nodes < 2 || o.nodes > bench.MaxClusterNodes:
		return nil, usageError{fmt.Errorf("--nodes %d: want 2 to %d", o.nodes, bench.MaxClusterNodes)}
	case o.peers < o.nodes:
		return nil, usageError{fmt.Errorf("--peers %d: want at least one per node (--nodes %d)", o.peers, o.nodes)}
	}
	ctx, dir, done, err := prepareRun(ctx, o)
	if err != nil {
		return nil, err
	}
	defer done()
	return bench.Cluster(ctx, bench.ClusterOptions{
		CapacityOptions: capacityOptions(o, prog),
		Nodes:           o.nodes, Binary: o.nodeBin, Dir: dir,
		Baseline: o.baseline,
	})
}

func runClusterFaults(ctx context.Context, o opts, prog *bench.Progress) (*bench.Report, error) {
	switch {
	case o.node != "" || o.pid != 0:
		return nil, usageError{errors.New("cluster-faults starts its own nodes: --node and --pid do not apply")}
	case o.nodeBin == "":
		return nil, usageError{errors.New("cluster-faults needs --node-bin (the rendezvous binary each node runs)")}
	case o.peers < 3:
		return nil, usageError{fmt.Errorf("--peers %d: want at least one per node", o.peers)}
	}
	var faults []string
	if o.scenarios != "" {
		faults = strings.Split(o.scenarios, ",")
	}
	ctx, dir, done, err := prepareRun(ctx, o)
	if err != nil {
		return nil, err
	}
	defer done()
	fo := bench.FaultsOptions{
		Peers: o.peers, NSSize: o.nsSize, Rate: o.rate, Concurrency: o.concurrency,
		Faults: faults, Partition: o.duration, Binary: o.nodeBin, Dir: dir, Progress: prog,
	}
	if o.syncAlways {
		fo.Configure = func(c *config.Config) { c.Cluster.Embedded.SyncAlways = true }
	}
	return bench.ClusterFaults(ctx, fo)
}

// sizeList is --peers: one number, or for sweep several, comma-separated.
type sizeList []int

func (l *sizeList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *sizeList) Set(v string) error {
	var out sizeList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a number of peers", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

func parsePairs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 1024 {
			return nil, fmt.Errorf("--pairs: %q is not a number of pairs (1-1024)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// raiseFileLimit lifts the soft descriptor limit to the hard one: every
// simulated peer holds a socket (and an in-process node one more).
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
