// Package nodeproc runs the rendezvous binary as a child process for the
// bench tool and the tests: it starts it, reads the address it prints, waits
// for its /readyz on loopback and stops it by PID, keeping the tail of its
// output for failure messages.
package nodeproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Options say what to run.
type Options struct {
	// Binary is the path of the rendezvous binary.
	Binary string
	// Args are its arguments (a run of the node: flags or --config).
	Args []string
	// Env is added to this process's environment.
	Env []string
	// Dir is its working directory ("" is this process's).
	Dir string
	// Log also receives its standard error (its log); nil keeps only the tail.
	Log io.Writer
	// StartTimeout bounds the wait for its first address (default 1 min).
	StartTimeout time.Duration
	// Subnet, when valid, is a network the caller built on this machine (a
	// network namespace's, see internal/netlab) whose addresses are
	// accepted beside loopback for the node's HTTP endpoints.
	Subnet netip.Prefix
	// KillWithParent ends the node when this process dies, however it
	// dies (Linux): a node in a network namespace would otherwise run on
	// unreachable after a killed test.
	KillWithParent bool
}

// tailBytes is how much of a node's output is kept for failure messages.
const tailBytes = 64 << 10

// Proc is one run of the node binary.
type Proc struct {
	// Addr is the first address the node printed, ending in /p2p/<id>.
	Addr ma.Multiaddr
	// Info is Addr as the node's peer ID and address.
	Info peer.AddrInfo

	cmd     *exec.Cmd
	subnet  netip.Prefix
	out     *Tail
	exited  chan struct{}
	waitErr error
	killed  atomic.Bool
	logged  bool
}

// Start runs the binary and waits for the first address it prints on
// standard output. On an error the process is stopped and, when there is no
// Options.Log, the error holds the tail of its output.
func Start(ctx context.Context, o Options) (*Proc, error) {
	if o.StartTimeout <= 0 {
		o.StartTimeout = time.Minute
	}
	cmd := exec.Command(o.Binary, o.Args...)
	cmd.Dir = o.Dir
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	ownGroup(cmd)
	if o.KillWithParent {
		killWithParent(cmd)
	}
	p := &Proc{cmd: cmd, subnet: o.Subnet, out: NewTail(tailBytes), exited: make(chan struct{})}
	cmd.Stderr = p.out
	if o.Log != nil {
		cmd.Stderr = io.MultiWriter(p.out, o.Log)
		p.logged = true
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = fmt.Fprintln(p.out, sc.Text())
			if strings.Contains(sc.Text(), "/p2p/") {
				select {
				case lines <- strings.TrimSpace(sc.Text()):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()

	fail := func(err error) (*Proc, error) {
		_ = p.Kill()
		return nil, p.withOutput(err)
	}
	select {
	case line := <-lines:
		a, err := ma.NewMultiaddr(line)
		if err != nil {
			return fail(fmt.Errorf("node printed %q: %w", line, err))
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return fail(fmt.Errorf("node printed %q: %w", line, err))
		}
		p.Addr, p.Info = a, *info
		return p, nil
	case <-p.exited:
		return fail(fmt.Errorf("node exited without printing an address: %v", p.waitErr))
	case <-time.After(o.StartTimeout):
		return fail(fmt.Errorf("node printed no address within %s", o.StartTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.exited }

// Output is the tail of what the node wrote (its log and its addresses).
func (p *Proc) Output() string { return p.out.String() }

// withOutput adds the tail of the node's output to err, unless its log
// already went to Options.Log.
func (p *Proc) withOutput(err error) error {
	if p.logged {
		return err
	}
	return fmt.Errorf("%w\nnode output (tail):\n%s", err, p.Output())
}

// HTTPAddr is the host:port of the node's HTTP endpoints: those of the
// WebSocket address it printed, which must be on loopback or in
// Options.Subnet.
func (p *Proc) HTTPAddr() (string, error) {
	na, err := manet.ToNetAddr(p.Addr.Decapsulate(ma.StringCast("/ws")))
	if err != nil {
		return "", fmt.Errorf("nodeproc: no HTTP port in %s: %w", p.Addr, err)
	}
	if !manet.IsIPLoopback(p.Addr) && !InSubnet(na, p.subnet) {
		return "", fmt.Errorf("nodeproc: %s is not a loopback address", p.Addr)
	}
	return na.String(), nil
}

// InSubnet reports whether a is a TCP address in subnet (false when subnet
// is the zero value).
func InSubnet(a net.Addr, subnet netip.Prefix) bool {
	t, ok := a.(*net.TCPAddr)
	if !ok || !subnet.IsValid() {
		return false
	}
	ip, ok := netip.AddrFromSlice(t.IP)
	return ok && subnet.Contains(ip.Unmap())
}

var readyClient = &http.Client{Timeout: 5 * time.Second}

// WaitReady polls the node's /readyz until it answers 200, the process
// exits, or within has passed.
func (p *Proc) WaitReady(ctx context.Context, within time.Duration) error {
	hp, err := p.HTTPAddr()
	if err != nil {
		return err
	}
	url := "http://" + hp + "/readyz"
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		if Ready(ctx, url) {
			return nil
		}
		select {
		case <-p.exited:
			return p.withOutput(fmt.Errorf("node exited before %s answered 200: %v", url, p.waitErr))
		case <-ctx.Done():
			return p.withOutput(fmt.Errorf("%s did not answer 200 within %s", url, within))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ready reports whether GET url answers 200.
func Ready(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := readyClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends the node with SIGTERM and, if it has not exited within grace,
// SIGKILL. It returns the process's exit error, or one saying it had to be
// killed; after Kill it returns nil.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		if p.killed.Load() {
			return nil
		}
		return p.waitErr
	default:
	}
	_ = terminate(p.cmd.Process)
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("nodeproc: node did not stop on SIGTERM; killed")
	}
}

// Kill ends the node with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	p.killed.Store(true)
	err := p.cmd.Process.Kill()
	<-p.exited
	return err
}

// Tail keeps the last bytes written to it, from many goroutines.
type Tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewTail keeps the last max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

// Write implements io.Writer.
func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
