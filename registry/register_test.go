package registry

import (
	"errors"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

func TestRegisterEmitsJoinedUpdatedLeftInOrder(t *testing.T) {
	m := newMemory(t)
	var rec recorder
	defer m.Subscribe("chat", rec.add)()

	a, b := testPeer(1), testPeer(2)
	mustRegister(t, m, liveReg(t, "chat", 1))
	mustRegister(t, m, liveReg(t, "chat", 2))
	changed := liveReg(t, "chat", 1)
	changed.Addrs = append(changed.Addrs, testAddr(t, 99))
	mustRegister(t, m, changed)
	if !m.Unregister("chat", b, SourceLive, ReasonDisconnected) {
		t.Fatal("Unregister of a live member reported false")
	}
	if !m.Unregister("chat", a, SourceLive, ReasonUnregistered) {
		t.Fatal("Unregister of a live member reported false")
	}
	checkEvents(t, rec.take(),
		wantEvent{Joined, ReasonNone, a},
		wantEvent{Joined, ReasonNone, b},
		wantEvent{Updated, ReasonNone, a},
		wantEvent{Left, ReasonDisconnected, b},
		wantEvent{Left, ReasonUnregistered, a},
	)
}

func TestUpdatedEventCarriesNewAddrsAndLeftCarriesLast(t *testing.T) {
	m := newMemory(t)
	var rec recorder
	defer m.Subscribe("chat", rec.add)()
	r := liveReg(t, "chat", 1)
	mustRegister(t, m, r)
	r.Addrs = []ma.Multiaddr{testAddr(t, 7)}
	r.Envelope = []byte("record")
	r.Format = FormatPeerRecord
	mustRegister(t, m, r)
	m.Unregister("chat", r.Peer, SourceLive, ReasonUnregistered)
	evs := rec.take()
	if len(evs) != 3 {
		t.Fatalf("got %v", summarize(evs))
	}
	for _, ev := range evs[1:] {
		if !ev.Reg.Addrs[0].Equal(testAddr(t, 7)) || string(ev.Reg.Envelope) != "record" || ev.Reg.Format != FormatPeerRecord {
			t.Fatalf("%v event carries %v %q %v", ev.Kind, ev.Reg.Addrs, ev.Reg.Envelope, ev.Reg.Format)
		}
	}
}

func TestRefreshWithoutChangeEmitsNothingButAdvancesSeq(t *testing.T) {
	m := newMemory(t)
	var rec recorder
	defer m.Subscribe("chat", rec.add)()
	first := mustRegister(t, m, ttlReg(t, "chat", 1, time.Hour))
	second := mustRegister(t, m, ttlReg(t, "chat", 1, 2*time.Hour))
	if len(rec.take()) != 1 {
		t.Fatal("plain TTL refresh emitted an event")
	}
	if second.Seq <= first.Seq {
		t.Fatalf("refresh kept Seq %d (was %d)", second.Seq, first.Seq)
	}
	if !second.Expiry.After(first.Expiry) {
		t.Fatal("refresh did not replace the expiry")
	}
}

func TestRegisterEnvelopeChangeIsAnUpdate(t *testing.T) {
	m := newMemory(t)
	var rec recorder
	defer m.Subscribe("chat", rec.add)()
	r := liveReg(t, "chat", 1)
	r.Envelope = []byte{1}
	mustRegister(t, m, r)
	r.Envelope = []byte{2}
	mustRegister(t, m, r)
	checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, r.Peer}, wantEvent{Updated, ReasonNone, r.Peer})
}

func TestTwoSourcesHoldOneMembership(t *testing.T) {
	m := newMemory(t)
	var rec recorder
	defer m.Subscribe("chat", rec.add)()
	p := testPeer(1)

	mustRegister(t, m, ttlReg(t, "chat", 1, time.Hour))
	got := mustRegister(t, m, liveReg(t, "chat", 1))
	if got.Source != SourceLive || got.Expiry.IsZero() {
		t.Fatalf("with both holds got Source %v Expiry %v, want live with the TTL expiry", got.Source, got.Expiry)
	}
	if n := m.Members("chat"); n != 1 {
		t.Fatalf("Members = %d, want 1", n)
	}
	// Dropping the TTL hold keeps the live member, silently.
	if !m.Unregister("chat", p, SourceRendezvous, ReasonUnregistered) {
		t.Fatal("dropping the TTL hold reported false")
	}
	if m.Unregister("chat", p, SourceRendezvous, ReasonUnregistered) {
		t.Fatal("dropping an absent TTL hold reported true")
	}
	r, ok := m.Get("chat", p)
	if !ok || r.Source != SourceLive || !r.Expiry.IsZero() {
		t.Fatalf("after TTL drop: ok=%v %+v", ok, r)
	}
	// A new TTL hold while live: still one member, no event.
	mustRegister(t, m, ttlReg(t, "chat", 1, time.Hour))
	if !m.Unregister("chat", p, SourceLive, ReasonDisconnected) {
		t.Fatal("dropping the live hold reported false")
	}
	r, ok = m.Get("chat", p)
	if !ok || r.Source != SourceRendezvous || r.Expiry.IsZero() {
		t.Fatalf("after live drop: ok=%v %+v", ok, r)
	}
	m.Unregister("chat", p, SourceRendezvous, ReasonUnregistered)
	if _, ok := m.Get("chat", p); ok {
		t.Fatal("member remains with no hold")
	}
	checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, p}, wantEvent{Left, ReasonUnregistered, p})
}

func TestUnregisterUnknownReportsFalse(t *testing.T) {
	m := newMemory(t)
	mustRegister(t, m, liveReg(t, "chat", 1))
	for _, c := range []struct {
		ns  string
		i   int
		src Source
	}{{"other", 1, SourceLive}, {"chat", 2, SourceLive}, {"chat", 1, SourceRendezvous}, {"chat", 1, 0}} {
		if m.Unregister(c.ns, testPeer(c.i), c.src, ReasonUnregistered) {
			t.Errorf("Unregister(%q, %d, %v) = true", c.ns, c.i, c.src)
		}
	}
	if m.Members("chat") != 1 {
		t.Fatal("a failed Unregister removed the member")
	}
}

func TestRegisterRejectsInvalidInput(t *testing.T) {
	m := newMemory(t, withLimits(func(l *Limits) { l.MaxAddrsPerRecord, l.MaxRecordSize = 2, 256 }))
	base := func() Registration { return liveReg(t, "ns", 1) }
	cases := []struct {
		name string
		mod  func(*Registration)
		want error
	}{
		{"empty namespace", func(r *Registration) { r.Namespace = "" }, ErrInvalidNamespace},
		{"namespace too long", func(r *Registration) { r.Namespace = strings.Repeat("a", MaxNamespaceLen+1) }, ErrInvalidNamespace},
		{"namespace not UTF-8", func(r *Registration) { r.Namespace = "a\xffb" }, ErrInvalidNamespace},
		{"empty peer", func(r *Registration) { r.Peer = "" }, ErrInvalidPeer},
		{"no source", func(r *Registration) { r.Source = 0 }, ErrInvalidSource},
		{"no addrs", func(r *Registration) { r.Addrs = nil }, ErrNoAddrs},
		{"too many addrs", func(r *Registration) { r.Addrs = []ma.Multiaddr{testAddr(t, 1), testAddr(t, 2), testAddr(t, 3)} }, ErrTooManyAddrs},
		{"record too large", func(r *Registration) { r.Envelope = make([]byte, 257) }, ErrRecordTooLarge},
		{"TTL hold without expiry", func(r *Registration) { r.Source = SourceRendezvous }, ErrInvalidExpiry},
		{"TTL hold already expired", func(r *Registration) {
			r.Source, r.Expiry = SourceRendezvous, time.Now().Add(-time.Second)
		}, ErrInvalidExpiry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := base()
			c.mod(&r)
			if _, err := m.Register(r); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// The limits are inclusive.
	r := base()
	r.Namespace = strings.Repeat("é", MaxNamespaceLen/2) + "a" // 255 bytes
	r.Addrs = r.Addrs[:1:1]
	r.Addrs = append(r.Addrs, testAddr(t, 2))
	r.Envelope = make([]byte, 256)
	mustRegister(t, m, r)
	if s := m.Stats(); s.Registrations != 1 {
		t.Fatalf("Stats after one valid and %d invalid registrations: %+v", len(cases), s)
	}
}

func TestPerPeerCapCountsNamespacesAndSparesRefresh(t *testing.T) {
	m := newMemory(t, withLimits(func(l *Limits) { l.MaxRegistrationsPerPeer = 2 }))
	mustRegister(t, m, liveReg(t, "a", 1))
	mustRegister(t, m, liveReg(t, "b", 1))
	if _, err := m.Register(liveReg(t, "c", 1)); !errors.Is(err, ErrTooManyForPeer) {
		t.Fatalf("third namespace: got %v, want ErrTooManyForPeer", err)
	}
	// Refresh and a second source on an existing membership do not count.
	mustRegister(t, m, liveReg(t, "a", 1))
	mustRegister(t, m, ttlReg(t, "b", 1, time.Hour))
	// Other peers are unaffected.
	mustRegister(t, m, liveReg(t, "c", 2))
	// Leaving frees a slot.
	m.Unregister("a", testPeer(1), SourceLive, ReasonUnregistered)
	mustRegister(t, m, liveReg(t, "c", 1))
}

func TestGlobalCapReturnsErrFull(t *testing.T) {
	m := newMemory(t, withLimits(func(l *Limits) { l.MaxRegistrations = 3 }))
	for i := range 3 {
		mustRegister(t, m, liveReg(t, "ns", i))
	}
	if _, err := m.Register(liveReg(t, "ns", 3)); !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	mustRegister(t, m, liveReg(t, "ns", 2)) // refresh at the cap
	m.Unregister("ns", testPeer(0), SourceLive, ReasonUnregistered)
	mustRegister(t, m, liveReg(t, "ns", 3))
}

func TestNamespaceCapReturnsErrTooManyNamespaces(t *testing.T) {
	m := newMemory(t, withLimits(func(l *Limits) { l.MaxNamespaces = 2 }))
	mustRegister(t, m, liveReg(t, "a", 1))
	mustRegister(t, m, liveReg(t, "b", 1))
	if _, err := m.Register(liveReg(t, "c", 2)); !errors.Is(err, ErrTooManyNamespaces) {
		t.Fatalf("got %v, want ErrTooManyNamespaces", err)
	}
	mustRegister(t, m, liveReg(t, "a", 2)) // existing namespace, new member
	m.Unregister("b", testPeer(1), SourceLive, ReasonUnregistered)
	mustRegister(t, m, liveReg(t, "c", 2)) // "b" was pruned, freeing a slot
}

func TestNamespacesArePrunedWhenEmpty(t *testing.T) {
	m := newMemory(t)
	mustRegister(t, m, liveReg(t, "a", 1))
	mustRegister(t, m, liveReg(t, "a", 2))
	mustRegister(t, m, liveReg(t, "b", 1))
	if s := m.Stats(); s.Namespaces != 2 || s.Registrations != 3 || s.Peers != 2 {
		t.Fatalf("Stats = %+v", s)
	}
	m.Unregister("a", testPeer(1), SourceLive, ReasonUnregistered)
	m.Unregister("a", testPeer(2), SourceLive, ReasonUnregistered)
	if s := m.Stats(); s.Namespaces != 1 || s.Registrations != 1 || s.Peers != 1 {
		t.Fatalf("Stats = %+v", s)
	}
	if regs, _ := m.Discover("a", 0, 10); len(regs) != 0 {
		t.Fatalf("pruned namespace still discovers %d", len(regs))
	}
	m.Unregister("b", testPeer(1), SourceLive, ReasonUnregistered)
	if s := m.Stats(); s != (Stats{}) {
		t.Fatalf("Stats of an empty registry = %+v", s)
	}
}

func TestReturnedRegistrationsAreCopies(t *testing.T) {
	m := newMemory(t)
	r := liveReg(t, "chat", 1)
	r.Envelope = []byte("abc")
	got := mustRegister(t, m, r)
	// Mutate the input, the returned value and a Get result.
	r.Envelope[0] = 'X'
	r.Addrs[0] = testAddr(t, 50)
	got.Envelope[1] = 'Y'
	got.Addrs[0] = testAddr(t, 51)
	g, _ := m.Get("chat", r.Peer)
	g.Envelope[2] = 'Z'
	d, _ := m.Discover("chat", 0, 1)
	d[0].Addrs[0] = testAddr(t, 52)

	g, _ = m.Get("chat", r.Peer)
	if string(g.Envelope) != "abc" || !g.Addrs[0].Equal(testAddr(t, 1)) {
		t.Fatalf("stored registration was modified through a copy: %q %v", g.Envelope, g.Addrs)
	}
}

func TestCloseIsIdempotentAndStopsService(t *testing.T) {
	m := NewMemory()
	var rec recorder
	m.Subscribe("chat", rec.add)
	mustRegister(t, m, liveReg(t, "chat", 1))
	for range 2 {
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if _, err := m.Register(liveReg(t, "chat", 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Register after Close: %v", err)
	}
	if m.Unregister("chat", testPeer(1), SourceLive, ReasonUnregistered) {
		t.Fatal("Unregister after Close reported true")
	}
	if _, ok := m.Get("chat", testPeer(1)); ok {
		t.Fatal("Get after Close found a member")
	}
	if regs, next := m.Discover("", 5, 10); regs != nil || next != 5 {
		t.Fatalf("Discover after Close = %v, %d", regs, next)
	}
	if m.Random("chat", 3, nil) != nil || m.Members("chat") != 0 || m.Stats() != (Stats{}) {
		t.Fatal("reads after Close are not zero")
	}
	m.Subscribe("chat", rec.add)() // no-op, must not panic
	checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, testPeer(1)})
}
