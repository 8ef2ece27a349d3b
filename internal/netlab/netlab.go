// Package netlab builds a small network on this machine for fault tests: one
// network namespace per cluster node, each joined by a veth pair to a bridge
// in the root namespace, on a private /24 the lab picks. The root namespace
// holds the bridge's address, so peers and load generators started there
// reach every node, and the lab can cut the links between the nodes with
// routes. Every name carries the creating process's PID:
// New first removes what a killed run of another (dead) process left.
package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Name prefixes: namespaces "rdvlab-<pid>-<i>", the bridge "rlb<pid>" and
// the root ends of the veth pairs "rlv<pid>n<i>" (links are at most 15
// bytes; PIDs have at most 7 digits).
const (
	nsPrefix     = "rdvlab-"
	bridgePrefix = "rlb"
	vethPrefix   = "rlv"
)

// MaxNodes bounds the namespaces of one lab.
const MaxNodes = 9

// cmdTimeout bounds one ip or tc command.
const cmdTimeout = 10 * time.Second

// Available says why a lab cannot be built here, nil when it can: it needs
// root, the ip tool and network namespaces.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netlab: needs root (network namespaces, veth links, tc)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netlab: ip not found (Debian package iproute2)")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return errors.New("netlab: the kernel has no network namespaces")
	}
	return nil
}

// Lab is the network of one run.
type Lab struct {
	pid    int
	bridge string
	prefix netip.Prefix
	nodes  []Node

	mu     sync.Mutex
	closed bool
}

// Node is one namespace of the lab.
type Node struct {
	// NS is the network namespace's name (for ip netns exec).
	NS string
	// Addr is the node's address on the lab's subnet.
	Addr netip.Addr
	veth string
}

// New builds a lab of n namespaces. The caller must Close it; a run killed
// before that is cleaned up by the next New of any process.
func New(ctx context.Context, n int) (*Lab, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxNodes {
		return nil, fmt.Errorf("netlab: %d nodes: want 1 to %d", n, MaxNodes)
	}
	Sweep(ctx)
	pid := os.Getpid()
	prefix, err := freeSubnet(ctx, pid)
	if err != nil {
		return nil, err
	}
	l := &Lab{pid: pid, bridge: fmt.Sprintf("%s%d", bridgePrefix, pid), prefix: prefix}
	if err := l.build(ctx, n); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) build(ctx context.Context, n int) error {
	gw := l.gateway()
	if err := run(ctx, "ip", "link", "add", l.bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := runAll(ctx,
		[]string{"ip", "addr", "add", netip.PrefixFrom(gw, 24).String(), "dev", l.bridge},
		[]string{"ip", "link", "set", l.bridge, "up"},
	); err != nil {
		return err
	}
	for i := range n {
		nd := Node{
			NS:   fmt.Sprintf("%s%d-%d", nsPrefix, l.pid, i+1),
			Addr: l.addrOf(i),
			veth: fmt.Sprintf("%s%dn%d", vethPrefix, l.pid, i+1),
		}
		l.nodes = append(l.nodes, nd)
		peerEnd := nd.veth + "p"
		if err := runAll(ctx,
			[]string{"ip", "netns", "add", nd.NS},
			[]string{"ip", "link", "add", nd.veth, "type", "veth", "peer", "name", peerEnd},
			[]string{"ip", "link", "set", nd.veth, "master", l.bridge},
			[]string{"ip", "link", "set", nd.veth, "up"},
			[]string{"ip", "link", "set", peerEnd, "netns", nd.NS},
			[]string{"ip", "-n", nd.NS, "link", "set", peerEnd, "name", "eth0"},
			[]string{"ip", "-n", nd.NS, "addr", "add", netip.PrefixFrom(nd.Addr, 24).String(), "dev", "eth0"},
			[]string{"ip", "-n", nd.NS, "link", "set", "eth0", "up"},
			// The embedded NATS server's client listener is on the
			// namespace's own loopback.
			[]string{"ip", "-n", nd.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", nd.NS, "route", "add", "default", "via", gw.String()},
		); err != nil {
			return err
		}
	}
	return nil
}

// Nodes are the lab's namespaces, in order.
func (l *Lab) Nodes() []Node { return l.nodes }

// Prefix is the lab's subnet: every address a node or the bridge has.
func (l *Lab) Prefix() netip.Prefix { return l.prefix }

// Gateway is the bridge's address in the root namespace: where the peers
// started there come from, as the nodes see them.
func (l *Lab) Gateway() netip.Addr { return l.gateway() }

func (l *Lab) gateway() netip.Addr { return l.prefix.Addr().Next() }

// addrOf is node i's address: .11, .12, …
func (l *Lab) addrOf(i int) netip.Addr {
	a := l.prefix.Addr().As4()
	a[3] = byte(11 + i)
	return netip.AddrFrom4(a)
}

// Command is cmd run inside node i's namespace: ip netns exec replaces
// itself with the command, so the process keeps the PID that Start returns.
func (l *Lab) Command(i int, name string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", l.nodes[i].NS, name}, args...)
}

// Partition cuts every link between the nodes of a and those of b, in both
// directions, with blackhole routes in each namespace: packets between the
// two sides are dropped while both keep reaching the root namespace (their
// peers). Heal undoes it.
func (l *Lab) Partition(ctx context.Context, a, b []int) error {
	return l.routes(ctx, "add", a, b)
}

// Heal removes the blackhole routes a Partition of a and b added.
func (l *Lab) Heal(ctx context.Context, a, b []int) error {
	return l.routes(ctx, "del", a, b)
}

func (l *Lab) routes(ctx context.Context, op string, a, b []int) error {
	var errs []error
	for _, i := range a {
		for _, j := range b {
			for _, pair := range [][2]int{{i, j}, {j, i}} {
				from, to := l.nodes[pair[0]], l.nodes[pair[1]]
				errs = append(errs, run(ctx, "ip", "-n", from.NS, "route", op, "blackhole", to.Addr.String()+"/32"))
			}
		}
	}
	return errors.Join(errs...)
}

// Listen opens a TCP listener inside node i's namespace on its address: a
// socket stays in the namespace it was made in, whichever thread uses it.
func (l *Lab) Listen(i, port int) (net.Listener, error) {
	var ln net.Listener
	err := l.inNS(i, func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(l.nodes[i].Addr, uint16(port)).String())
		return err
	})
	return ln, err
}

// inNS runs f on a thread moved into node i's namespace, then moves it back.
func (l *Lab) inNS(i int, f func() error) error {
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer own.Close()
	target, err := os.Open("/run/netns/" + l.nodes[i].NS)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: setns %s: %w", l.nodes[i].NS, err)
	}
	ferr := f()
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and ends with the goroutine: it must
		// not run anything else in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("netlab: setns back: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Close removes the namespaces (with their veth ends) and the bridge. It is
// idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return removeRun(ctx, l.pid)
}

// Sweep removes the namespaces and links of labs whose process is gone: a
// run killed before its Close.
func Sweep(ctx context.Context) {
	for _, pid := range stalePIDs(ctx) {
		_ = removeRun(ctx, pid)
	}
}

// removeRun removes every namespace and link named after pid.
func removeRun(ctx context.Context, pid int) error {
	var errs []error
	nss, _ := output(ctx, "ip", "netns", "list")
	for _, ns := range namespaces(nss) {
		if p, ok := pidOf(ns, nsPrefix); ok && p == pid {
			// The run's node processes, left running when it was killed:
			// without this the namespace would live on with them.
			pids, _ := output(ctx, "ip", "netns", "pids", ns)
			for _, f := range strings.Fields(pids) {
				if n, err := strconv.Atoi(f); err == nil && n > 1 {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
			errs = append(errs, run(ctx, "ip", "netns", "del", ns))
		}
	}
	links, _ := output(ctx, "ip", "-o", "link", "show")
	for _, name := range linkNames(links) {
		if p, ok := linkPID(name); ok && p == pid {
			// A veth whose other end went with its namespace is gone already.
			_ = run(ctx, "ip", "link", "del", name)
		}
	}
	return errors.Join(errs...)
}

// stalePIDs lists the PIDs of labs whose process no longer runs.
func stalePIDs(ctx context.Context) []int {
	seen := map[int]bool{}
	nss, _ := output(ctx, "ip", "netns", "list")
	for _, ns := range namespaces(nss) {
		if p, ok := pidOf(ns, nsPrefix); ok {
			seen[p] = true
		}
	}
	links, _ := output(ctx, "ip", "-o", "link", "show")
	for _, name := range linkNames(links) {
		if p, ok := linkPID(name); ok {
			seen[p] = true
		}
	}
	var out []int
	for p := range seen {
		if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err != nil && p != os.Getpid() {
			out = append(out, p)
		}
	}
	return out
}

// namespaces parses ip netns list: "name" or "name (id: 3)" per line.
func namespaces(out string) []string {
	var ns []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// linkNames parses ip -o link show: "3: name@peer: <…> …" per line.
func linkNames(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, name)
	}
	return names
}

// pidOf reads the PID from "<prefix><pid>-…" or "<prefix><pid>".
func pidOf(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	p, err := strconv.Atoi(rest[:end])
	return p, err == nil && p > 0
}

// linkPID reads the PID of a lab's bridge or veth name.
func linkPID(name string) (int, bool) {
	if p, ok := pidOf(name, bridgePrefix); ok && strings.TrimLeft(strings.TrimPrefix(name, bridgePrefix), "0123456789") == "" {
		return p, true
	}
	if p, ok := pidOf(name, vethPrefix); ok && strings.HasPrefix(strings.TrimLeft(strings.TrimPrefix(name, vethPrefix), "0123456789"), "n") {
		return p, true
	}
	return 0, false
}

// freeSubnet picks a 10.x.y.0/24 that no address or route of this machine
// is in, starting from one derived from pid so that concurrent runs differ.
func freeSubnet(ctx context.Context, pid int) (netip.Prefix, error) {
	routes, err := output(ctx, "ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return netip.Prefix{}, err
	}
	addrs, err := output(ctx, "ip", "-4", "-o", "addr", "show")
	if err != nil {
		return netip.Prefix{}, err
	}
	used := routes + "\n" + addrs
	for k := range 256 {
		n := (pid + k*7919) % (56 * 256)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + n/256), byte(n % 256), 0}), 24)
		if !strings.Contains(used, strings.TrimSuffix(p.Addr().String(), ".0")+".") {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("netlab: no free 10.200-255.x.0/24 subnet")
}

func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

func runAll(ctx context.Context, cmds ...[]string) error {
	for _, c := range cmds {
		if err := run(ctx, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("netlab: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
