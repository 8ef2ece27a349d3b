package wsstar

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// nextMember returns the member's next message, failing after waitFor.
func nextMember(t *testing.T, m *Member) Message {
	t.Helper()
	select {
	case msg, ok := <-m.C():
		if !ok {
			t.Fatal("member channel closed")
		}
		return msg
	case <-time.After(waitFor):
		t.Fatalf("no message from member (last error: %v)", m.Err())
		return nil
	}
}

// untilShown reads m's messages until one shows p joined in ns.
func untilShown(t *testing.T, m *Member, p peer.ID) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if u, ok := nextMember(t, m).(*Update); ok {
			if e, found := findEvent(u, p); found && e.Kind == pb.PeerEvent_JOINED {
				return
			}
		}
	}
	t.Fatalf("%s never shown", p)
}

func untilReconnected(t *testing.T, m *Member) *Reconnected {
	t.Helper()
	deadline := time.Now().Add(2 * waitFor)
	for time.Now().Before(deadline) {
		if r, ok := nextMember(t, m).(*Reconnected); ok {
			return r
		}
	}
	t.Fatal("member never reconnected")
	return nil
}

func nodeHost(t *testing.T, key crypto.PrivKey, listen string) host.Host {
	t.Helper()
	return testhost.NewWith(t, true, nil, libp2p.Identity(key), libp2p.ListenAddrStrings(listen))
}

func TestMemberRejoinsOnItsOwnAfterTheNodeRestarts(t *testing.T) {
	key := mustKey(t)
	h1 := nodeHost(t, key, "/ip4/127.0.0.1/tcp/0/ws")
	listen := h1.Addrs()[0].String()
	n1 := newNodeOn(t, h1, nil)
	info := peer.AddrInfo{ID: h1.ID(), Addrs: h1.Addrs()}

	fast := WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond)
	ha, hb := testhost.NewClient(t), testhost.NewClient(t)
	a, err := NewMember(ha, info, []string{"room"}, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b, err := NewMember(hb, info, []string{"room"}, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if r := untilReconnected(t, b); r.Attempts != 1 {
		t.Fatalf("first connection took %d attempts", r.Attempts)
	}
	untilShown(t, b, ha.ID())

	// The node goes away; the member's attempts fail while it is down.
	_ = n1.svc.Close()
	_ = h1.Close()
	deadline := time.Now().Add(waitFor)
	for b.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.Err() == nil {
		t.Fatal("no failed attempt while the node was down")
	}

	// The same identity comes back on the same address.
	h2 := nodeHost(t, key, listen)
	n2 := newNodeOn(t, h2, nil)
	if r := untilReconnected(t, b); r.Attempts < 2 {
		t.Errorf("reconnect after a restart took %d attempts, want the failed ones counted", r.Attempts)
	}
	untilShown(t, b, ha.ID())
	if got := n2.reg.Stats().Registrations; got != 2 {
		t.Errorf("restarted node holds %d members, want 2", got)
	}

	// Close is a clean leave, seen by the other member.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if u, ok := nextMember(t, b).(*Update); ok {
			if e, found := findEvent(u, ha.ID()); found && e.Kind == pb.PeerEvent_LEFT {
				if e.Reason != pb.LeftReason_LEFT {
					t.Errorf("LEFT reason %s, want LEFT", e.Reason)
				}
				return
			}
		}
	}
	t.Fatal("closed member never LEFT")
}

func TestMemberCloseReturnsWhileTheNodeIsUnreachable(t *testing.T) {
	h := testhost.NewClient(t)
	dead := nodeHost(t, mustKey(t), "/ip4/127.0.0.1/tcp/0/ws")
	info := peer.AddrInfo{ID: dead.ID(), Addrs: dead.Addrs()}
	_ = dead.Close()
	m, err := NewMember(h, info, []string{"room"}, WithReconnectBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for m.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m.Err() == nil {
		t.Fatal("no failed attempt recorded")
	}
	done := make(chan struct{})
	go func() { _ = m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Close waited for the hour-long backoff")
	}
	if _, ok := <-m.C(); ok {
		t.Fatal("channel still open after Close")
	}
}

func TestMemberOptionsRefuseABadBackoffAndNoNamespace(t *testing.T) {
	h := testhost.NewClient(t)
	info := peer.AddrInfo{ID: h.ID()}
	for name, tc := range map[string]struct {
		nss  []string
		opts []MemberOption
	}{
		"no namespace": {nil, nil},
		"zero min":     {[]string{"x"}, []MemberOption{WithReconnectBackoff(0, time.Second)}},
		"max < min":    {[]string{"x"}, []MemberOption{WithReconnectBackoff(time.Second, time.Millisecond)}},
	} {
		if m, err := NewMember(h, info, tc.nss, tc.opts...); err == nil {
			_ = m.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}
