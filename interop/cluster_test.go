package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"

	"github.com/ws-star/rendezvous/internal/nodeproc"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testnats"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// crashToLeftBound is the bound for a SIGKILLed node's peers to
// leave the other nodes' views (the lease is 3 s by default).
const crashToLeftBound = 10 * time.Second

// nodeProc is one run of the node binary.
type nodeProc struct {
	*nodeproc.Proc
	id peer.ID
}

// startProc runs the binary with args and waits for its first /p2p/ address
// on stdout. The process is killed by PID when the test ends.
func startProc(t *testing.T, bin, dir string, port int, args ...string) *nodeProc {
	t.Helper()
	args = append([]string{"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--identity", filepath.Join(dir, "identity.key")}, args...)
	p, err := nodeproc.Start(t.Context(), nodeproc.Options{Binary: bin, Args: args, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return &nodeProc{Proc: p, id: p.Info.ID}
}

func (p *nodeProc) info() peer.AddrInfo { return p.Info }

func (p *nodeProc) waitReady(t *testing.T) {
	t.Helper()
	if err := p.WaitReady(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// member connects a browser-style peer to node p, reserves and joins ns.
func member(t *testing.T, p *nodeProc, ns string) (host.Host, *wsstar.Client) {
	t.Helper()
	h := testhost.NewClient(t)
	if err := h.Connect(t.Context(), p.info()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Reserve(t.Context(), h, p.info()); err != nil {
		t.Fatal(err)
	}
	c, err := wsstar.Dial(t.Context(), h, p.id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(t.Context(), ns, true, 0); err != nil {
		t.Fatal(err)
	}
	return h, c
}

// viewOf is what a client's view shows, and the reason of each LEFT.
type viewOf struct {
	*wsstar.View
	mu   sync.Mutex
	left map[peer.ID]pb.LeftReason
}

func follow(c *wsstar.Client) *viewOf {
	v := &viewOf{View: wsstar.NewView(""), left: map[peer.ID]pb.LeftReason{}}
	go func() {
		for m := range c.C() {
			u, ok := m.(*wsstar.Update)
			if !ok {
				continue
			}
			for _, e := range v.Apply(u) {
				if e.Kind == pb.PeerEvent_LEFT {
					v.mu.Lock()
					v.left[e.Peer] = e.Reason
					v.mu.Unlock()
				}
			}
		}
	}()
	return v
}

func (v *viewOf) leftReason(p peer.ID) (pb.LeftReason, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.left[p]
	return r, ok
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// registerTTL registers a listening peer in ns through node p's
// /rendezvous/1.0.0.
func registerTTL(t *testing.T, p *nodeProc, ns string) peer.ID {
	t.Helper()
	h := testhost.New(t)
	if err := h.Connect(t.Context(), p.info()); err != nil {
		t.Fatal(err)
	}
	if _, err := rendezvous.NewClient(h, p.id).Register(t.Context(), ns, time.Hour); err != nil {
		t.Fatal(err)
	}
	return h.ID()
}

func discovered(t *testing.T, p *nodeProc, ns string, want peer.ID) bool {
	t.Helper()
	h := testhost.New(t)
	if err := h.Connect(t.Context(), p.info()); err != nil {
		t.Fatal(err)
	}
	regs, _, err := rendezvous.NewClient(h, p.id).Discover(t.Context(), ns, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if r.Peer == want {
			return true
		}
	}
	return false
}

// crashAndRestart is the scenario of both cluster modes: peers on every
// node see each other, a SIGKILLed node's peers leave the others' views as
// DISCONNECTED within the bound, and a TTL registration taken on the killed
// node is discovered again after it restarts.
func crashAndRestart(t *testing.T, procs []*nodeProc, restart func() *nodeProc) {
	var views []*viewOf
	var peers []peer.ID
	for _, p := range procs {
		h, c := member(t, p, "room")
		views = append(views, follow(c))
		peers = append(peers, h.ID())
	}
	for i, v := range views {
		for j, p := range peers {
			if i != j {
				waitUntil(t, 30*time.Second, fmt.Sprintf("node %d's view shows node %d's peer", i, j), func() bool { return v.Has(p) })
			}
		}
	}
	ttlPeer := registerTTL(t, procs[len(procs)-1], "board")
	waitUntil(t, 30*time.Second, "TTL registration visible on node 0", func() bool { return discovered(t, procs[0], "board", ttlPeer) })

	killed := len(procs) - 1
	_ = procs[killed].Kill()
	for i := range killed {
		took := waitUntil(t, crashToLeftBound, fmt.Sprintf("node %d's view drops the killed node's peer", i), func() bool {
			r, ok := views[i].leftReason(peers[killed])
			return ok && r == pb.LeftReason_DISCONNECTED
		})
		t.Logf("crash to LEFT on node %d: %v", i, took.Round(10*time.Millisecond))
	}

	again := restart()
	again.waitReady(t)
	if !discovered(t, again, "board", ttlPeer) {
		t.Fatal("the TTL registration taken on the killed node is gone after its restart")
	}
}

func TestThreeEmbeddedNodeProcessesSurviveASIGKILL(t *testing.T) {
	bin := buildNode(t)
	ports := testnats.FreePorts(t, 6)
	web, routes := ports[:3], ports[3:]
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	start := func(i int) *nodeProc {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, fmt.Sprintf("127.0.0.1:%d", r))
			}
		}
		return startProc(t, bin, dirs[i], web[i],
			"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", routes[i]),
			"--cluster-routes", strings.Join(others, ","),
			"--cluster-store", filepath.Join(dirs[i], "store"))
	}
	procs := []*nodeProc{start(0), start(1), start(2)}
	for _, p := range procs {
		p.waitReady(t)
	}
	crashAndRestart(t, procs, func() *nodeProc { return start(2) })
}

func TestTwoNodeProcessesOnExternalNATSSurviveASIGKILL(t *testing.T) {
	bin := buildNode(t)
	ports := testnats.FreePorts(t, 2)
	url := testnats.Start(t).URL()
	dirs := []string{t.TempDir(), t.TempDir()}
	start := func(i int) *nodeProc { return startProc(t, bin, dirs[i], ports[i], "--nats-url", url) }
	procs := []*nodeProc{start(0), start(1)}
	for _, p := range procs {
		p.waitReady(t)
	}
	crashAndRestart(t, procs, func() *nodeProc { return start(1) })
}
