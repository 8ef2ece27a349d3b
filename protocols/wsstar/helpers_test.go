package wsstar

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

const waitFor = 5 * time.Second

type testNode struct {
	h   host.Host
	reg *registry.Memory
	svc *Service
}

func newNode(t *testing.T, regOpts []registry.Option, opts ...Option) *testNode {
	t.Helper()
	h := testhost.New(t)
	return newNodeOn(t, h, regOpts, opts...)
}

func newNodeOn(t *testing.T, h host.Host, regOpts []registry.Option, opts ...Option) *testNode {
	t.Helper()
	reg := registry.NewMemory(regOpts...)
	svc, err := New(h, reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = svc.Close()
		_ = reg.Close()
	})
	return &testNode{h: h, reg: reg, svc: svc}
}

// dial starts a browser-like (non-listening) host and opens a client stream.
func (n *testNode) dial(t *testing.T) (*Client, host.Host) {
	t.Helper()
	h := testhost.NewClient(t)
	return n.dialFrom(t, h, 64), h
}

func (n *testNode) dialFrom(t *testing.T, h host.Host, buffer int) *Client {
	t.Helper()
	testhost.Connect(t, h, n.h)
	c, err := DialBuffer(t.Context(), h, n.h.ID(), buffer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func join(t *testing.T, c *Client, ns string, announce bool, maxPeers uint32) (JoinResult, *Update) {
	t.Helper()
	r, err := c.Join(t.Context(), ns, announce, maxPeers)
	if err != nil {
		t.Fatalf("join %q: %v", ns, err)
	}
	u := nextUpdate(t, c)
	if !u.Snapshot || u.NS != ns {
		t.Fatalf("first message after the ack: %+v, want the snapshot of %q", u, ns)
	}
	return r, u
}

func next(t *testing.T, c *Client) Message {
	t.Helper()
	select {
	case m, ok := <-c.C():
		if !ok {
			t.Fatalf("stream ended: %v", c.Err())
		}
		return m
	case <-time.After(waitFor):
		t.Fatal("no message")
	}
	return nil
}

func nextUpdate(t *testing.T, c *Client) *Update {
	t.Helper()
	m := next(t, c)
	u, ok := m.(*Update)
	if !ok {
		t.Fatalf("got %#v, want an update", m)
	}
	return u
}

// expectEvent waits for an event about p, skipping events about others.
func expectEvent(t *testing.T, c *Client, p peer.ID) PeerEvent {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m, ok := <-c.C():
			if !ok {
				t.Fatalf("stream ended: %v", c.Err())
			}
			if u, ok := m.(*Update); ok {
				for _, e := range u.Events {
					if e.Peer == p {
						return e
					}
				}
			}
		case <-deadline:
			t.Fatalf("no event for %s", p)
		}
	}
}

func findEvent(u *Update, p peer.ID) (PeerEvent, bool) {
	for _, e := range u.Events {
		if e.Peer == p {
			return e, true
		}
	}
	return PeerEvent{}, false
}

// signedMember returns a peer with a signed peer record listing addrs.
func signedMember(t *testing.T, addrs ...ma.Multiaddr) (peer.ID, []byte) {
	t.Helper()
	priv := mustKey(t)
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return id, sealRecord(t, id, priv, addrs...)
}

// sealRecord is a marshalled peer record naming id, signed by key.
func sealRecord(t *testing.T, id peer.ID, key crypto.PrivKey, addrs ...ma.Multiaddr) []byte {
	t.Helper()
	env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id, Addrs: addrs}), key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func statusOfErr(t *testing.T, err error) pb.JoinAck_Status {
	t.Helper()
	se, ok := err.(*StatusError)
	if !ok {
		t.Fatalf("got %v, want a status error", err)
	}
	return se.Status
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
