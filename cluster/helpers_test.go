package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/registry"
)

const (
	testBucket = "test"
	testLease  = 2 * time.Second
)

// newTestRegistry starts a Registry on a fresh connection to url with a
// real libp2p host, waiting until it is ready.
func newTestRegistry(tb testing.TB, url string, opts ...Option) *Registry {
	tb.Helper()
	nc, err := Connect(ClientConfig{URLs: []string{url}, Name: tb.Name()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	h := testhost.New(tb)
	base := []Option{WithLimits(Limits{Bucket: testBucket, LeaseTTL: setting.Duration(testLease)}), withWriteTimeout(time.Second),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	r, err := New(h, nc, append(base, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	waitFor(tb, 15*time.Second, "registry in sync", func() bool { return !r.Degraded() })
	return r
}

// withRegistryLimits is WithRegistryLimits of registry.DefaultLimits changed
// by set.
func withRegistryLimits(set func(*registry.Limits)) Option {
	l := registry.DefaultLimits()
	set(&l)
	return WithRegistryLimits(l)
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder collects events of one namespace.
type recorder struct {
	mu  sync.Mutex
	evs []registry.Event
}

func record(r registry.Registry, ns string) *recorder {
	rec := &recorder{}
	r.Subscribe(ns, func(ev registry.Event) {
		rec.mu.Lock()
		rec.evs = append(rec.evs, ev)
		rec.mu.Unlock()
	})
	return rec
}

func (rec *recorder) events() []registry.Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]registry.Event(nil), rec.evs...)
}

// waitEvent waits for an event of kind for p and returns it.
func (rec *recorder) waitEvent(tb testing.TB, d time.Duration, kind registry.EventKind, p peer.ID) registry.Event {
	tb.Helper()
	var got registry.Event
	waitFor(tb, d, fmt.Sprintf("%v of %s", kind, p), func() bool {
		for _, ev := range rec.events() {
			if ev.Kind == kind && ev.Reg.Peer == p {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

func (rec *recorder) count(kind registry.EventKind, p peer.ID) int {
	n := 0
	for _, ev := range rec.events() {
		if ev.Kind == kind && ev.Reg.Peer == p {
			n++
		}
	}
	return n
}

// member builds a registration for a new random peer.
func member(tb testing.TB, ns string, src registry.Source, ttl time.Duration) registry.Registration {
	tb.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	a := ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws")
	r := registry.Registration{Namespace: ns, Peer: id, Addrs: []ma.Multiaddr{a}, Source: src}
	if ttl > 0 {
		r.Expiry = time.Now().Add(ttl)
	}
	return r
}
