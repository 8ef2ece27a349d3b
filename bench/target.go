package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/nodeproc"
	"github.com/ws-star/rendezvous/node"
)

// Target is the node under test.
type Target struct {
	Info peer.AddrInfo
	// Kind is "external", "process" (a child the tool started) or
	// "in-process".
	Kind string
	// Node samples the node; nil when an external node was given without a pid.
	Node Sampler
	// Shared is true when Node also counts the generator (in-process node).
	Shared bool
	// MetricsURL is the node's /metrics, "" when unknown.
	MetricsURL string
	// PprofURL is the node's pprof listener (http://host:port), "" when unknown.
	PprofURL string

	close func() error
	kill  func() error
	// proc is the node's process when the tool started it as one.
	proc *nodeproc.Proc
	// relaunch starts the same binary again with the same identity and
	// address (a node the tool started as a process); nil otherwise.
	relaunch func(ctx context.Context) (*Target, error)
}

// Close stops a node the tool started; an external node is left alone.
func (t *Target) Close() error {
	if t.close == nil {
		return nil
	}
	return t.close()
}

// Kill ends a node the tool started with SIGKILL, as a crash would, and
// waits for it to exit; Close afterwards does nothing.
func (t *Target) Kill() error {
	if t.kill == nil {
		return errors.New("bench: only a node the tool started as a process can be killed")
	}
	return t.kill()
}

// TargetOptions chooses the node.
type TargetOptions struct {
	// Node is an external node's multiaddr ending in /p2p/<id>.
	Node string
	// PID is the external node's process id (0: no node figures).
	PID int
	// Binary, when Node is empty, is the rendezvous binary to start as a
	// child process; empty starts the node in this process.
	Binary string
	// PprofAddr serves pprof from a started node (host:port on loopback).
	PprofAddr string
	// Dir holds the started node's identity and config.
	Dir string
	Log *slog.Logger
	// Configure, when set, changes the bench configuration of a node the
	// tool starts (the abuse scenarios size it and restore default limits).
	Configure func(*config.Config)
	// Transport, when webrtc-direct or webtransport, adds a loopback
	// listener of it to a node the tool starts.
	Transport Transport
}

// BenchConfig is the configuration of a node the tool starts: the defaults,
// on a free loopback port, with loopback addresses advertised (the relay and
// the live protocol hand them to peers). The per-peer rendezvous request rate
// is raised so that the rendezvous scenario measures the server, not its
// rate limiter.
func BenchConfig(dir, pprofAddr string) config.Config {
	c := config.Default()
	c.Identity.KeyFile = filepath.Join(dir, "identity.key")
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws"}
	c.AnnouncePrivate = true
	c.Rendezvous.RequestRate = 1e6
	c.Rendezvous.RequestBurst = 1 << 20
	c.Pprof.Addr = pprofAddr
	c.Log.Level = "warn"
	return c
}

// StartTarget connects to or starts the node.
func StartTarget(ctx context.Context, o TargetOptions) (*Target, error) {
	if o.Node != "" {
		return externalTarget(o, netip.Prefix{})
	}
	if o.Dir == "" {
		return nil, errors.New("bench: TargetOptions.Dir is required to start a node")
	}
	cfg := BenchConfig(o.Dir, o.PprofAddr)
	if a := o.Transport.listenAddr(); a != "" {
		cfg.Listen = append(cfg.Listen, a)
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	if o.Binary != "" {
		return startProcess(ctx, o.Binary, cfg, o.Dir, os.Stderr)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := node.New(ctx, cfg, node.WithLogger(log))
	if err != nil {
		return nil, err
	}
	t := &Target{
		Info:   peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()},
		Kind:   "in-process",
		Node:   SelfSampler{},
		Shared: true,
		close: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return n.Close(ctx)
		},
	}
	t.MetricsURL = metricsURL(t.Info.Addrs)
	if a := n.SideListenerAddr("pprof"); a != "" {
		t.PprofURL = "http://" + a
	}
	return t, nil
}

// LiveHeap forces a garbage collection in the node and returns the bytes
// of live heap after it: unlike RSS, it does not include garbage or memory
// the runtime has not yet returned, so growth here is memory really kept.
// It needs the node's pprof listener (or an in-process node).
func (t *Target) LiveHeap() (uint64, error) {
	if t.Kind == "in-process" {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, nil
	}
	if t.PprofURL == "" || t.MetricsURL == "" {
		return 0, errors.New("bench: live heap needs the node's pprof and metrics endpoints")
	}
	// The heap profile endpoint runs a GC first when asked.
	if err := httpGet(t.PprofURL + "/debug/pprof/heap?gc=1"); err != nil {
		return 0, err
	}
	v, err := scrapeGauge(t.MetricsURL, "go_memstats_heap_alloc_bytes")
	return uint64(v), err
}

// externalTarget is the node of o.Node; its addresses must be on loopback
// or in subnet (a lab network the tool built, or the zero value).
func externalTarget(o TargetOptions, subnet netip.Prefix) (*Target, error) {
	a, err := ma.NewMultiaddr(o.Node)
	if err != nil {
		return nil, fmt.Errorf("--node: %w", err)
	}
	info, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return nil, fmt.Errorf("--node must end with /p2p/<peer-id>: %w", err)
	}
	if err := loopbackOnly(info.Addrs, subnet); err != nil {
		return nil, err
	}
	t := &Target{Info: *info, Kind: "external", MetricsURL: metricsURL(info.Addrs)}
	if o.PprofAddr != "" {
		t.PprofURL = "http://" + o.PprofAddr
	}
	if o.PID > 0 {
		t.Node = ProcSampler{PID: o.PID, MetricsURL: t.MetricsURL}
		if _, err := t.Node.Sample(); err != nil {
			return nil, fmt.Errorf("--pid %d: %w", o.PID, err)
		}
	}
	return t, nil
}

// loopbackOnly keeps the load on this machine: the tool opens thousands of
// connections and must not be pointed at someone else's node by accident.
// Addresses in subnet, a network the tool built here (internal/netlab), are
// this machine's too.
func loopbackOnly(addrs []ma.Multiaddr, subnet netip.Prefix) error {
	for _, a := range addrs {
		if ip, err := manet.ToIP(a); err == nil && nodeproc.InSubnet(&net.TCPAddr{IP: ip}, subnet) {
			continue
		}
		if !manet.IsIPLoopback(a) {
			return fmt.Errorf("bench: %s is not a loopback address", a)
		}
	}
	return nil
}

// addAdvertised sets Info.Addrs to what the node's /addrs.json lists.
func (t *Target) addAdvertised(subnet netip.Prefix) error {
	ws := firstWS(t.Info.Addrs)
	if ws == "" {
		return errors.New("bench: no WebSocket address to read /addrs.json from")
	}
	na, err := manet.ToNetAddr(ma.StringCast(ws).Decapsulate(ma.StringCast("/ws")))
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + na.String() + "/addrs.json")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer resp.Body.Close()
	var doc node.AddrsDoc
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return fmt.Errorf("bench: /addrs.json: %w", err)
	}
	var addrs []ma.Multiaddr
	for _, s := range doc.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("bench: /addrs.json: %q: %w", s, err)
		}
		addrs = append(addrs, a.Decapsulate(ma.StringCast("/p2p/"+t.Info.ID.String())))
	}
	if err := loopbackOnly(addrs, subnet); err != nil {
		return err
	}
	t.Info.Addrs = addrs
	return nil
}

// metricsURL is http://<ip>:<port>/metrics for the first plain /ws address:
// the node serves /metrics on its WebSocket port.
func metricsURL(addrs []ma.Multiaddr) string {
	ws := firstWS(addrs)
	if ws == "" {
		return ""
	}
	na, err := manet.ToNetAddr(ma.StringCast(ws).Decapsulate(ma.StringCast("/ws")))
	if err != nil {
		return ""
	}
	return "http://" + na.String() + "/metrics"
}

// firstWS is the first plain /ws address over IP and TCP, "" if none.
func firstWS(addrs []ma.Multiaddr) string {
	for _, a := range addrs {
		if !strings.HasSuffix(a.String(), "/ws") {
			continue
		}
		if _, err := manet.ToNetAddr(a.Decapsulate(ma.StringCast("/ws"))); err == nil {
			return a.String()
		}
	}
	return ""
}

// stopGrace is how long a node the tool started has to stop on SIGTERM
// before it is killed.
const stopGrace = 15 * time.Second

// startProcess runs the node binary with cfg, its log going to stderr, reads
// its first address from stdout and stops it (SIGTERM, then SIGKILL) on Close.
func startProcess(ctx context.Context, bin string, cfg config.Config, dir string, stderr io.Writer) (*Target, error) {
	return startProcessWith(ctx, launch{}, bin, cfg, dir, stderr)
}

// launch says how a node the tool starts runs: on this machine's network,
// or inside one of a lab's network namespaces.
type launch struct {
	// wrap, when set, is the command that runs bin with args (ip netns
	// exec …); the process keeps the PID the command starts with.
	wrap func(bin string, args []string) (string, []string)
	// subnet is the lab's network, whose addresses the node may have.
	subnet netip.Prefix
}

func startProcessWith(ctx context.Context, l launch, bin string, cfg config.Config, dir string, stderr io.Writer) (*Target, error) {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "rendezvous.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	name, args := bin, []string{"--config", path}
	if l.wrap != nil {
		name, args = l.wrap(bin, args)
	}
	p, err := nodeproc.Start(ctx, nodeproc.Options{Binary: name, Args: args, Log: stderr, StartTimeout: 30 * time.Second, Subnet: l.subnet, KillWithParent: l.wrap != nil})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	stop := func() error { return p.Stop(stopGrace) }
	t, err := externalTarget(TargetOptions{Node: p.Addr.String(), PID: p.PID(), PprofAddr: cfg.Pprof.Addr}, l.subnet)
	if err != nil {
		_ = stop()
		return nil, err
	}
	t.Kind = "process"
	t.proc = p
	t.close = stop
	t.kill = p.Kill
	if len(cfg.Listen) > 1 {
		// The first line is the WebSocket address; the node lists the
		// others, with their certhashes, at /addrs.json.
		if err := t.addAdvertised(l.subnet); err != nil {
			_ = stop()
			return nil, err
		}
	}
	if ws := firstWS(t.Info.Addrs); ws != "" {
		again := cfg
		again.Listen = []string{ws} // the port the peers know, not a fresh one
		t.relaunch = func(ctx context.Context) (*Target, error) {
			return startProcessWith(ctx, l, bin, again, dir, stderr)
		}
	}
	return t, nil
}
