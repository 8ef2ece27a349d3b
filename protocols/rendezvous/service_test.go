package rendezvous

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
	"github.com/ws-star/rendezvous/registry"
)

func TestRegisterDiscoverUnregister(t *testing.T) {
	s := newServer(t, nil)
	a, ca := s.newClient(t)
	_, cb := s.newClient(t)
	ctx := t.Context()

	granted, err := ca.Register(ctx, "chat", time.Hour)
	if err != nil || granted != time.Hour {
		t.Fatalf("Register = %v, %v; want 1h", granted, err)
	}
	regs, cookie, err := cb.Discover(ctx, "chat", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 || regs[0].Peer != a.ID() || regs[0].Namespace != "chat" {
		t.Fatalf("Discover = %+v", regs)
	}
	if regs[0].TTL < time.Hour-5*time.Second || regs[0].TTL > time.Hour {
		t.Fatalf("remaining TTL %v, want about 1h", regs[0].TTL)
	}
	stored, _ := s.reg.Get("chat", a.ID())
	if !bytes.Equal(regs[0].Envelope, stored.Envelope) {
		t.Fatal("returned envelope differs from the one registered")
	}
	if len(cookie) != 8+len("chat") || string(cookie[8:]) != "chat" {
		t.Fatalf("cookie %x is not cursor+namespace", cookie)
	}

	if err := ca.Unregister(ctx, "chat"); err != nil {
		t.Fatal(err)
	}
	if regs, _, err := cb.Discover(ctx, "chat", 0, nil); err != nil || len(regs) != 0 {
		t.Fatalf("after UNREGISTER: Discover = %+v, %v", regs, err)
	}
}

func TestRegisterWithoutTTLGetsDefaultAndReRegisterRefreshes(t *testing.T) {
	s := newServer(t, nil, withLimits(func(l *Limits) {
		l.MinTTL, l.DefaultTTL, l.MaxTTL = setting.Duration(time.Minute), setting.Duration(2*time.Hour), setting.Duration(3*time.Hour)
	}))
	a, ca := s.newClient(t)
	if g, err := ca.Register(t.Context(), "chat", 0); err != nil || g != 2*time.Hour {
		t.Fatalf("Register without ttl = %v, %v; want default 2h", g, err)
	}
	first, _ := s.reg.Get("chat", a.ID())
	if g, err := ca.Register(t.Context(), "chat", 90*time.Second); err != nil || g != 90*time.Second {
		t.Fatalf("re-Register = %v, %v", g, err)
	}
	second, _ := s.reg.Get("chat", a.ID())
	if !second.Expiry.Before(first.Expiry) || second.Seq <= first.Seq {
		t.Fatal("re-REGISTER did not replace the TTL")
	}
}

func TestRegisterWithoutTypeFieldIsAccepted(t *testing.T) {
	s := newServer(t, nil)
	h, _ := s.newClient(t)
	raw := openRaw(t, h, s)
	// @canvas-js omits zero values: no type, no ttl.
	ns := "canvas"
	raw.send(&pb.Message{Register: &pb.Message_Register{Ns: &ns, SignedPeerRecord: hostRecord(t, h, registry.FormatPeerRecord)}})
	resp := raw.recv()
	rr := resp.GetRegisterResponse()
	if resp.Type == nil || resp.GetType() != pb.Message_REGISTER_RESPONSE || rr.Status == nil || rr.GetStatus() != StatusOK {
		t.Fatalf("reply %v: type and status must be set", resp)
	}
	if rr.Ttl == nil || rr.GetTtl() != uint64(DefaultTTL/time.Second) || rr.GetStatusText() == "" {
		t.Fatalf("reply %v: want granted default ttl and a status text", resp)
	}
}

func TestCanvasProtocolIDIsServed(t *testing.T) {
	s := newServer(t, nil)
	_, c := s.newClient(t, WithClientProtocols(CanvasProtoID))
	if _, err := c.Register(t.Context(), "canvas", 0); err != nil {
		t.Fatal(err)
	}
	if regs, _, err := c.Discover(t.Context(), "canvas", 0, nil); err != nil || len(regs) != 1 {
		t.Fatalf("Discover = %v, %v", regs, err)
	}
}

func TestDiscoverWithCookieReturnsOnlyNewRegistrations(t *testing.T) {
	s := newServer(t, nil)
	_, ca := s.newClient(t)
	b, cb := s.newClient(t)
	_, cc := s.newClient(t)
	ctx := t.Context()
	if _, err := ca.Register(ctx, "chat", 0); err != nil {
		t.Fatal(err)
	}
	regs, cookie, err := cc.Discover(ctx, "chat", 0, nil)
	if err != nil || len(regs) != 1 {
		t.Fatalf("first Discover = %d, %v", len(regs), err)
	}
	regs, cookie2, err := cc.Discover(ctx, "chat", 0, cookie)
	if err != nil || len(regs) != 0 || !bytes.Equal(cookie, cookie2) {
		t.Fatalf("Discover with cookie and nothing new = %d, %v, cookie moved %v", len(regs), err, !bytes.Equal(cookie, cookie2))
	}
	if _, err := cb.Register(ctx, "chat", 0); err != nil {
		t.Fatal(err)
	}
	regs, _, err = cc.Discover(ctx, "chat", 0, cookie)
	if err != nil || len(regs) != 1 || regs[0].Peer != b.ID() {
		t.Fatalf("Discover after a new registration = %+v, %v; want only b", regs, err)
	}
}

func TestDiscoverPagesOver2500Registrations(t *testing.T) {
	s := newServer(t, nil)
	const direct, wire = 2497, 3
	// Most are put straight into the registry with real signed records; a
	// few arrive over the wire and so sort last.
	for i := 0; i < direct; i++ {
		k, id := newKey(t)
		env := mustSeal(t, k, []ma.Multiaddr{publicAddr}, registry.FormatPeerRecord)
		if _, err := s.reg.Register(registry.Registration{
			Namespace: "big", Peer: id, Addrs: []ma.Multiaddr{publicAddr}, Envelope: env,
			Format: registry.FormatPeerRecord, Source: registry.SourceRendezvous, Expiry: time.Now().Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	var clients []*Client
	for i := 0; i < wire; i++ {
		_, c := s.newClient(t)
		if _, err := c.Register(t.Context(), "big", 0); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for _, ns := range []string{"big", ""} {
		seen := make(map[peer.ID]bool)
		var cookie []byte
		pages := 0
		for {
			// 5000 is clamped to the maximum of 1000.
			regs, next, err := clients[0].Discover(t.Context(), ns, 5000, cookie)
			if err != nil {
				t.Fatal(err)
			}
			if len(regs) > DefaultMaxDiscoverLimit {
				t.Fatalf("page of %d > max limit", len(regs))
			}
			if len(regs) == 0 {
				break
			}
			pages++
			for _, r := range regs {
				if seen[r.Peer] {
					t.Fatalf("ns %q: %s returned twice", ns, r.Peer)
				}
				if r.Namespace != "big" || r.TTL < time.Second {
					t.Fatalf("ns %q: registration with ns %q ttl %v", ns, r.Namespace, r.TTL)
				}
				seen[r.Peer] = true
			}
			cookie = next
		}
		if len(seen) != direct+wire || pages != 3 {
			t.Fatalf("ns %q: %d registrations in %d pages, want %d in 3", ns, len(seen), pages, direct+wire)
		}
	}
}

func TestRegisterErrorStatuses(t *testing.T) {
	s := newServer(t, []registry.Option{withRegistryLimits(func(l *registry.Limits) { l.MaxAddrsPerRecord = 2 })},
		withLimits(func(l *Limits) {
			l.MinTTL, l.DefaultTTL, l.MaxTTL = setting.Duration(time.Minute), setting.Duration(time.Hour), setting.Duration(2*time.Hour)
		}))
	h, c := s.newClient(t)
	other, _ := s.newClient(t)
	ctx := t.Context()
	good := hostRecord(t, h, registry.FormatPeerRecord)
	tooMany := hostRecord(t, h, registry.FormatPeerRecord,
		ma.StringCast("/ip4/1.2.3.4/tcp/1"), ma.StringCast("/ip4/1.2.3.4/tcp/2"), ma.StringCast("/ip4/1.2.3.4/tcp/3"))
	k := h.Peerstore().PrivKey(h.ID())
	for _, tc := range []struct {
		name string
		ns   string
		env  []byte
		ttl  time.Duration
		want Status
	}{
		{"empty namespace", "", good, 0, StatusInvalidNamespace},
		{"long namespace", strings.Repeat("n", 256), good, 0, StatusInvalidNamespace},
		{"non-UTF-8 namespace", "\xff\xfe", good, 0, StatusInvalidNamespace},
		{"ttl below minimum", "ns", good, 59 * time.Second, StatusInvalidTTL},
		{"ttl above maximum", "ns", good, 2*time.Hour + time.Second, StatusInvalidTTL},
		{"ttl overflowing", "ns", good, 1 << 62, StatusInvalidTTL},
		{"missing record", "ns", nil, 0, StatusInvalidSignedPeerRecord},
		{"garbage record", "ns", []byte("not an envelope"), 0, StatusInvalidSignedPeerRecord},
		{"record without addresses", "ns", mustSeal(t, k, nil, registry.FormatPeerRecord), 0, StatusInvalidSignedPeerRecord},
		{"record signed by another key", "ns", crossSigned(t, k, other.ID()), 0, StatusInvalidSignedPeerRecord},
		{"record of another peer", "ns", hostRecord(t, other, registry.FormatPeerRecord), 0, StatusNotAuthorized},
		{"too many addresses", "ns", tooMany, 0, StatusInvalidSignedPeerRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.RegisterEnvelope(ctx, tc.ns, tc.env, tc.ttl)
			wantStatus(t, err, tc.want)
		})
	}
	if n := s.reg.Members("ns"); n != 0 {
		t.Fatalf("%d registrations after refused requests", n)
	}
}

func TestDiscoverErrorStatuses(t *testing.T) {
	s := newServer(t, nil)
	_, c := s.newClient(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		ns     string
		cookie []byte
		want   Status
	}{
		{"long namespace", strings.Repeat("n", 256), nil, StatusInvalidNamespace},
		{"non-UTF-8 namespace", "\xc3", nil, StatusInvalidNamespace},
		{"short cookie", "chat", []byte{1, 2, 3}, StatusInvalidCookie},
		{"cookie of another namespace", "chat", EncodeCookie(1, "other"), StatusInvalidCookie},
		{"namespace cookie for all namespaces", "", EncodeCookie(1, "chat"), StatusInvalidCookie},
		{"all-namespaces cookie for one", "chat", EncodeCookie(1, ""), StatusInvalidCookie},
		{"non-UTF-8 cookie", "chat", append(EncodeCookie(1, ""), 0xff), StatusInvalidCookie},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Discover(ctx, tc.ns, 0, tc.cookie)
			wantStatus(t, err, tc.want)
		})
	}
}

func TestRegistryCapsAnswerWithStatus(t *testing.T) {
	s := newServer(t, []registry.Option{withRegistryLimits(func(l *registry.Limits) { l.MaxRegistrationsPerPeer, l.MaxRegistrations, l.MaxNamespaces = 2, 3, 2 })})
	_, a := s.newClient(t)
	_, b := s.newClient(t)
	ctx := t.Context()
	for _, ns := range []string{"one", "two"} {
		if _, err := a.Register(ctx, ns, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Per-peer quota: a policy about this peer, not a passing condition.
	_, err := a.Register(ctx, "one-more", 0)
	wantStatus(t, err, StatusNotAuthorized)
	// Namespace cap, then the global cap: node capacity, retry later.
	_, err = b.Register(ctx, "three", 0)
	wantStatus(t, err, StatusUnavailable)
	if _, err := b.Register(ctx, "one", 0); err != nil {
		t.Fatal(err)
	}
	_, err = b.Register(ctx, "two", 0)
	wantStatus(t, err, StatusUnavailable)
	// Refreshing an existing registration never hits a cap.
	if _, err := a.Register(ctx, "one", 0); err != nil {
		t.Fatalf("refresh at the cap: %v", err)
	}
}

func TestRequestRateLimitAnswersUnavailable(t *testing.T) {
	s := newServer(t, nil, withLimits(func(l *Limits) { l.RequestRate, l.RequestBurst = 0.001, 3 }))
	_, c := s.newClient(t)
	_, other := s.newClient(t)
	ctx := t.Context()
	for i := 0; i < 3; i++ {
		if _, _, err := c.Discover(ctx, "chat", 0, nil); err != nil {
			t.Fatalf("request %d within burst: %v", i, err)
		}
	}
	_, _, err := c.Discover(ctx, "chat", 0, nil)
	wantStatus(t, err, StatusUnavailable)
	_, err = c.Register(ctx, "chat", 0)
	wantStatus(t, err, StatusUnavailable)
	// Buckets are per peer.
	if _, _, err := other.Discover(ctx, "chat", 0, nil); err != nil {
		t.Fatalf("another peer limited: %v", err)
	}
}

func TestRecordFormatsAreAcceptedAndNeverMixed(t *testing.T) {
	s := newServer(t, nil)
	goHost, goClient := s.newClient(t)
	rustHost, rustClient := s.newClient(t, WithRecordFormat(registry.FormatRoutingState))
	ctx := t.Context()
	if _, err := goClient.Register(ctx, "mixed", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rustClient.Register(ctx, "mixed", 0); err != nil {
		t.Fatalf("routing-state record refused: %v", err)
	}
	if r, _ := s.reg.Get("mixed", rustHost.ID()); r.Format != registry.FormatRoutingState {
		t.Fatalf("stored format %d, want routing-state", r.Format)
	}
	check := func(c *Client, ns string, want registry.RecordFormat, wantPeer peer.ID) {
		t.Helper()
		regs, cookie, err := c.Discover(ctx, ns, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(regs) != 1 || regs[0].Format != want || regs[0].Peer != wantPeer {
			t.Fatalf("Discover(%q) = %+v; want only %s in format %d", ns, regs, wantPeer, want)
		}
		// The skipped one is behind the cursor too: nothing comes back.
		if more, _, err := c.Discover(ctx, ns, 0, cookie); err != nil || len(more) != 0 {
			t.Fatalf("after cookie: %+v, %v", more, err)
		}
	}
	check(goClient, "mixed", registry.FormatPeerRecord, goHost.ID())
	check(rustClient, "mixed", registry.FormatRoutingState, rustHost.ID())
	check(rustClient, "", registry.FormatRoutingState, rustHost.ID())
}

func TestRustAgentWithoutRegistrationsGetsRoutingStateRecords(t *testing.T) {
	s := newServer(t, nil)
	rustHost, rustClient := s.newClient(t, WithRecordFormat(registry.FormatRoutingState))
	_, goClient := s.newClient(t)
	if _, err := rustClient.Register(t.Context(), "mixed", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := goClient.Register(t.Context(), "mixed", 0); err != nil {
		t.Fatal(err)
	}
	// The agent version arrives through identify, as from a real rust peer.
	viewer := testhost.NewClient(t, libp2p.UserAgent("rust-libp2p/0.56.0"))
	testhost.Connect(t, viewer, s.h)
	testhost.Eventually(t, "identify", func() bool {
		av, err := s.h.Peerstore().Get(viewer.ID(), "AgentVersion")
		return err == nil && av == "rust-libp2p/0.56.0"
	})
	regs, _, err := NewClient(viewer, s.h.ID()).Discover(t.Context(), "mixed", 0, nil)
	if err != nil || len(regs) != 1 || regs[0].Peer != rustHost.ID() {
		t.Fatalf("Discover by a rust agent = %+v, %v", regs, err)
	}
}

func TestSeveralRequestsOnOneStream(t *testing.T) {
	s := newServer(t, nil)
	h, _ := s.newClient(t)
	raw := openRaw(t, h, s)
	raw.send(registerMsg("chat", hostRecord(t, h, registry.FormatPeerRecord), 0))
	if st := raw.recv().GetRegisterResponse().GetStatus(); st != StatusOK {
		t.Fatalf("REGISTER: %s", st)
	}
	raw.send(discoverMsg("chat", 0, nil))
	if n := len(raw.recv().GetDiscoverResponse().GetRegistrations()); n != 1 {
		t.Fatalf("DISCOVER: %d results", n)
	}
	raw.send(unregisterMsg("chat"))
	raw.send(discoverMsg("chat", 0, nil))
	// The UNREGISTER got no reply: the next frame answers the DISCOVER.
	resp := raw.recv()
	if resp.GetType() != pb.Message_DISCOVER_RESPONSE || len(resp.GetDiscoverResponse().GetRegistrations()) != 0 {
		t.Fatalf("after UNREGISTER: %v", resp)
	}
}

func TestOneRequestPerHalfClosedStream(t *testing.T) {
	s := newServer(t, nil)
	h, _ := s.newClient(t)
	raw := openRaw(t, h, s)
	raw.send(registerMsg("chat", hostRecord(t, h, registry.FormatPeerRecord), 7200))
	if err := raw.str.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if st := raw.recv().GetRegisterResponse().GetStatus(); st != StatusOK {
		t.Fatalf("REGISTER: %s", st)
	}
	if err := raw.expectEnd(); err != nil {
		t.Fatalf("stream not closed cleanly after the reply: %v", err)
	}
}

func TestDiscoverResponseIsComplete(t *testing.T) {
	s := newServer(t, nil)
	h, c := s.newClient(t)
	if _, err := c.Register(t.Context(), "chat", 0); err != nil {
		t.Fatal(err)
	}
	raw := openRaw(t, h, s)
	raw.send(discoverMsg("", 0, nil))
	resp := raw.recv()
	dr := resp.GetDiscoverResponse()
	if resp.Type == nil || dr.Status == nil || dr.GetStatus() != StatusOK || dr.GetStatusText() == "" || len(dr.GetCookie()) != 8 {
		t.Fatalf("all-namespaces reply %v lacks type, status, text or an 8-byte cookie", resp)
	}
	r := dr.GetRegistrations()[0]
	if r.Ns == nil || r.GetNs() != "chat" || r.Ttl == nil || r.GetTtl() < 1 || len(r.GetSignedPeerRecord()) == 0 {
		t.Fatalf("registration %v lacks ns, ttl or record", r)
	}
}

func TestUndecodableAndUnknownMessages(t *testing.T) {
	s := newServer(t, nil)
	h, _ := s.newClient(t)

	// A REGISTER whose sub-message does not decode is answered, then closed.
	raw := openRaw(t, h, s)
	bad := []byte{0x08, 0x00, 0x12, 0x02, 0xff, 0xff} // type=REGISTER, register=<garbage>
	raw.sendBytes(append([]byte{byte(len(bad))}, bad...))
	resp := raw.recv()
	if resp.GetType() != pb.Message_REGISTER_RESPONSE || resp.GetRegisterResponse().GetStatus() != StatusInvalidSignedPeerRecord {
		t.Fatalf("reply to malformed REGISTER: %v", resp)
	}
	if err := raw.expectEnd(); err != nil {
		t.Fatalf("stream after malformed REGISTER: %v", err)
	}

	// A response type sent to the server has no answer: reset.
	raw = openRaw(t, h, s)
	raw.send(&pb.Message{Type: pb.Message_REGISTER_RESPONSE.Enum()})
	if err := raw.expectEnd(); err == nil {
		t.Fatal("stream closed cleanly after a response-type message, want reset")
	}

	// So has an unknown type.
	raw = openRaw(t, h, s)
	raw.sendBytes([]byte{0x02, 0x08, 0x63})
	if err := raw.expectEnd(); err == nil {
		t.Fatal("stream closed cleanly after an unknown type, want reset")
	}
}

func TestOversizeFrameResetsStream(t *testing.T) {
	s := newServer(t, nil)
	h, c := s.newClient(t)
	raw := openRaw(t, h, s)
	raw.sendBytes([]byte{0x80, 0x80, 0x80, 0x80, 0x04}) // 1 GiB announced
	if err := raw.expectEnd(); err == nil {
		t.Fatal("stream closed cleanly after an over-size frame, want reset")
	}
	// The connection and the service are fine.
	if _, _, err := c.Discover(t.Context(), "chat", 0, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStreamsPerPeerAreCapped(t *testing.T) {
	s := newServer(t, nil, withLimits(func(l *Limits) { l.MaxStreamsPerPeer = 1 }))
	h, _ := s.newClient(t)
	first := openRaw(t, h, s)
	first.send(discoverMsg("chat", 0, nil))
	first.recv() // admitted and still open
	second := openRaw(t, h, s)
	second.send(discoverMsg("chat", 0, nil))
	if st := second.recv().GetDiscoverResponse().GetStatus(); st != StatusUnavailable {
		t.Fatalf("second stream: %s, want E_UNAVAILABLE", st)
	}
	_ = first.str.Close()
	testhost.Eventually(t, "first stream to be released", func() bool {
		third := openRaw(t, h, s)
		third.send(discoverMsg("chat", 0, nil))
		return third.recv().GetDiscoverResponse().GetStatus() == StatusOK
	})
}

func TestPeerWithOpenStreamIsProtected(t *testing.T) {
	s := newServer(t, nil)
	h, _ := s.newClient(t)
	raw := openRaw(t, h, s)
	raw.send(discoverMsg("chat", 0, nil))
	raw.recv()
	if !s.h.ConnManager().IsProtected(h.ID(), protectTag) {
		t.Fatal("peer with an open stream is not protected")
	}
	_ = raw.str.CloseWrite()
	if err := raw.expectEnd(); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "protection to end", func() bool { return !s.h.ConnManager().IsProtected(h.ID(), protectTag) })
}

func TestPresenceBindingDropsRelayOnlyRegistrations(t *testing.T) {
	const grace = time.Second
	s := newServer(t, nil, withLimits(func(l *Limits) { l.PresenceBinding, l.PresenceGrace = true, setting.Duration(grace) }))
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + s.h.ID().String() + "/p2p-circuit")
	relayed := func() []ma.Multiaddr { return []ma.Multiaddr{circuit} }
	gone, goneC := s.newClient(t, WithAddrs(relayed))
	back, backC := s.newClient(t, WithAddrs(relayed))
	public, publicC := s.newClient(t)
	for _, c := range []*Client{goneC, backC, publicC} {
		if _, err := c.Register(t.Context(), "room", 0); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	disconnectAt := time.Now()
	for _, h := range []interface{ Close() error }{gone, public} {
		_ = h.Close()
	}
	_ = back.Network().ClosePeer(s.h.ID())
	testhost.Eventually(t, "server to see back disconnect", func() bool { return len(s.h.Network().ConnsToPeer(back.ID())) == 0 })
	// back returns within the grace: its timer is cancelled.
	if _, err := back.Network().DialPeer(t.Context(), s.h.ID()); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "relay-only registration to be dropped", func() bool {
		_, ok := s.reg.Get("room", gone.ID())
		return !ok
	})
	if since := time.Since(disconnectAt); since < grace {
		t.Fatalf("dropped after %v, before the %v grace", since, grace)
	}
	time.Sleep(grace / 2) // past every timer that could fire for back
	if _, ok := s.reg.Get("room", back.ID()); !ok {
		t.Fatal("registration of a peer that came back within the grace was dropped")
	}
	if _, ok := s.reg.Get("room", public.ID()); !ok {
		t.Fatal("registration with a public address was dropped")
	}
}

func TestPresenceBindingCanBeDisabled(t *testing.T) {
	s := newServer(t, nil, withLimits(func(l *Limits) { l.PresenceBinding, l.PresenceGrace = false, 0 }))
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + s.h.ID().String() + "/p2p-circuit")
	h, c := s.newClient(t, WithAddrs(func() []ma.Multiaddr { return []ma.Multiaddr{circuit} }))
	if _, err := c.Register(t.Context(), "room", 0); err != nil {
		t.Fatal(err)
	}
	_ = h.Close()
	testhost.Eventually(t, "disconnect", func() bool { return len(s.h.Network().ConnsToPeer(h.ID())) == 0 })
	s.svc.mu.Lock()
	pending := len(s.svc.timers) + len(s.svc.bound)
	s.svc.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d presence entries kept with binding disabled", pending)
	}
}

func TestMetricsCountRequestsResultsAndDrops(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newServer(t, nil, WithRegisterer(reg), withLimits(func(l *Limits) { l.PresenceBinding, l.PresenceGrace = true, setting.Duration(50*time.Millisecond) }))
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + s.h.ID().String() + "/p2p-circuit")
	h, c := s.newClient(t, WithAddrs(func() []ma.Multiaddr { return []ma.Multiaddr{circuit} }))
	if _, err := c.Register(t.Context(), "m", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(t.Context(), "m", time.Second); err == nil {
		t.Fatal("ttl below minimum accepted")
	}
	if _, _, err := c.Discover(t.Context(), "m", 0, nil); err != nil {
		t.Fatal(err)
	}
	m := s.svc.mt.(*promTracer)
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"REGISTER", "OK"}, 1},
		{[]string{"REGISTER", "E_INVALID_TTL"}, 1},
		{[]string{"DISCOVER", "OK"}, 1},
	} {
		if got := counterValue(t, m.requests.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("requests%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := counterValue(t, m.discoverResults); got != 1 {
		t.Errorf("discover results = %v, want 1", got)
	}
	_ = h.Close()
	testhost.Eventually(t, "presence drop metric", func() bool { return counterValue(t, m.presenceDrops) == 1 })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "rendezvous_rendezvous_") {
			t.Errorf("metric %s lacks the rendezvous_rendezvous_ prefix", mf.GetName())
		}
	}
	if len(mfs) != 3 {
		t.Errorf("%d metric families registered, want 3", len(mfs))
	}
}

func TestCloseIsIdempotentAndStopsServing(t *testing.T) {
	s := newServer(t, nil)
	h, c := s.newClient(t)
	raw := openRaw(t, h, s)
	raw.send(discoverMsg("chat", 0, nil))
	raw.recv()
	if err := s.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := raw.expectEnd(); err == nil {
		t.Fatal("open stream survived Close")
	}
	if _, _, err := c.Discover(t.Context(), "chat", 0, nil); err == nil {
		t.Fatal("served after Close")
	}
	if s.h.ConnManager().IsProtected(h.ID(), protectTag) {
		t.Fatal("peer still protected after Close")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	s := newServer(t, nil)
	bad := func(set func(*Limits)) Option {
		l := DefaultLimits()
		set(&l)
		return WithLimits(l)
	}
	for name, o := range map[string]Option{
		"ttl order":    bad(func(l *Limits) { l.MinTTL, l.DefaultTTL = setting.Duration(time.Hour), setting.Duration(time.Minute) }),
		"limit order":  bad(func(l *Limits) { l.DiscoverLimit, l.MaxDiscoverLimit = 10, 5 }),
		"zero rate":    bad(func(l *Limits) { l.RequestRate = 0 }),
		"zero grace":   bad(func(l *Limits) { l.PresenceBinding, l.PresenceGrace = true, 0 }),
		"zero timeout": bad(func(l *Limits) { l.StreamTimeout = 0 }),
		"zero streams": bad(func(l *Limits) { l.MaxStreamsPerPeer = 0 }),
		"nil logger":   WithLogger(nil),
		"nil observer": WithLimitObserver(nil),
		"no peers":     WithMaxTrackedPeers(0),
	} {
		svc, err := New(s.h, s.reg, o)
		if err == nil {
			_ = svc.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "rendezvous: ") {
			t.Errorf("%s: error %q does not name the package", name, err)
		}
	}
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestPresenceSetOfAConnectedPeerStaysBounded(t *testing.T) {
	s := newServer(t, nil)
	h, _ := s.newClient(t)
	// Namespaces whose registrations have already expired from the registry.
	for i := 0; i < 10*maxBoundPerPeer; i++ {
		s.svc.bindPresence(h.ID(), "gone-"+strconv.Itoa(i), true)
	}
	s.svc.mu.Lock()
	n := len(s.svc.bound[h.ID()])
	s.svc.mu.Unlock()
	if n > maxBoundPerPeer {
		t.Fatalf("%d bound namespaces kept, want at most %d", n, maxBoundPerPeer)
	}
}

func TestLiveRegistrationsAreListedWithMinimumTTLOrSkippedWithoutRecord(t *testing.T) {
	s := newServer(t, nil)
	k, withRecord := newKey(t)
	_, withoutRecord := newKey(t)
	for id, env := range map[peer.ID][]byte{
		withRecord:    mustSeal(t, k, []ma.Multiaddr{publicAddr}, registry.FormatPeerRecord),
		withoutRecord: nil,
	} {
		f := registry.FormatPeerRecord
		if env == nil {
			f = registry.FormatNone
		}
		if _, err := s.reg.Register(registry.Registration{
			Namespace: "live", Peer: id, Addrs: []ma.Multiaddr{publicAddr}, Envelope: env,
			Format: f, Source: registry.SourceLive,
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, c := s.newClient(t)
	regs, _, err := c.Discover(t.Context(), "live", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 || regs[0].Peer != withRecord || regs[0].TTL != DefaultMinTTL {
		t.Fatalf("Discover = %+v; want only the live peer with a record, ttl %v", regs, DefaultMinTTL)
	}
}

// A browser's WebRTC-over-relay address (<relay>/p2p-circuit/webrtc) reaches
// the discoverer as registered, and counts as reachable only through this
// relay: the registration is bound to the browser's presence.
func TestWebRTCCircuitAddressesAreDiscoveredAndBoundToPresence(t *testing.T) {
	s := newServer(t, nil, withLimits(func(l *Limits) { l.PresenceBinding, l.PresenceGrace = true, setting.Duration(time.Minute) }))
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + s.h.ID().String() + "/p2p-circuit")
	webrtc := circuit.Encapsulate(ma.StringCast("/webrtc"))
	browser, browserC := s.newClient(t, WithAddrs(func() []ma.Multiaddr { return []ma.Multiaddr{circuit, webrtc} }))
	if _, err := browserC.Register(t.Context(), "room", 0); err != nil {
		t.Fatal(err)
	}
	_, seeker := s.newClient(t)
	regs, _, err := seeker.Discover(t.Context(), "room", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 || regs[0].Peer != browser.ID() {
		t.Fatalf("discovered %+v, want the browser", regs)
	}
	if got := regs[0].Addrs; len(got) != 2 || !got[0].Equal(circuit) || !got[1].Equal(webrtc) {
		t.Fatalf("discovered addresses %v, want %v %v", got, circuit, webrtc)
	}
	if !relayOnly(regs[0].Addrs, s.h.ID()) {
		t.Fatal("WebRTC-over-relay addresses are not counted as relay-only")
	}
}
