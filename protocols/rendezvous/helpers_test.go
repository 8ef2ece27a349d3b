package rendezvous

import (
	"bufio"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
	"github.com/ws-star/rendezvous/registry"
)

type server struct {
	h   host.Host
	svc *Service
	reg *registry.Memory
}

// withLimits is WithLimits of DefaultLimits without rate limiting, changed
// by set.
func withLimits(set func(*Limits)) Option {
	l := DefaultLimits()
	l.RequestRate, l.RequestBurst = 1e9, 1<<30
	set(&l)
	return WithLimits(l)
}

// newServer starts a rendezvous point on a loopback host. Rate limiting is
// off unless opts set it, so that tests count only what they test.
func newServer(t testing.TB, regOpts []registry.Option, opts ...Option) *server {
	t.Helper()
	h := testhost.New(t)
	reg := registry.NewMemory(regOpts...)
	t.Cleanup(func() { _ = reg.Close() })
	svc, err := New(h, reg, append([]Option{withLimits(func(*Limits) {})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return &server{h: h, svc: svc, reg: reg}
}

// newClient returns a connected non-listening host and its client. Its
// records carry a public-looking address (a browser would use relayed ones).
func (s *server) newClient(t testing.TB, opts ...ClientOption) (host.Host, *Client) {
	t.Helper()
	h := testhost.NewClient(t)
	testhost.Connect(t, h, s.h)
	addrs := func() []ma.Multiaddr { return []ma.Multiaddr{publicAddr} }
	c := NewClient(h, s.h.ID(), append([]ClientOption{WithAddrs(addrs)}, opts...)...)
	t.Cleanup(func() { _ = c.Close() })
	return h, c
}

// rawStream is a stream to the server for hand-made frames.
type rawStream struct {
	t    testing.TB
	host host.Host
	str  network.Stream
	r    *bufio.Reader
}

func openRaw(t testing.TB, h host.Host, s *server) *rawStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	str, err := h.NewStream(ctx, s.h.ID(), ProtoID)
	if err != nil {
		t.Fatal(err)
	}
	_ = str.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { _ = str.Reset() })
	return &rawStream{t: t, host: h, str: str, r: bufio.NewReader(str)}
}

func (r *rawStream) send(m *pb.Message) {
	r.t.Helper()
	if err := writeMsg(r.str, m); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawStream) sendBytes(b []byte) {
	r.t.Helper()
	if _, err := r.str.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawStream) recv() *pb.Message {
	r.t.Helper()
	b, err := readFrame(r.r, 4<<20)
	if err != nil {
		r.t.Fatalf("reading reply: %v", err)
	}
	m, err := decodeMessage(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// expectEnd reads until the stream ends and returns how: nil for a clean
// close (EOF), the error for a reset.
func (r *rawStream) expectEnd() error {
	r.t.Helper()
	b, err := readFrame(r.r, 4<<20)
	if err == nil {
		m, _ := decodeMessage(b)
		r.t.Fatalf("unexpected message %v", m)
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func registerMsg(ns string, env []byte, ttl uint64) *pb.Message {
	m := &pb.Message{Type: pb.Message_REGISTER.Enum(), Register: &pb.Message_Register{Ns: &ns, SignedPeerRecord: env}}
	if ttl > 0 {
		m.Register.Ttl = &ttl
	}
	return m
}

func discoverMsg(ns string, limit uint64, cookie []byte) *pb.Message {
	m := &pb.Message{Type: pb.Message_DISCOVER.Enum(), Discover: &pb.Message_Discover{Cookie: cookie}}
	if ns != "" {
		m.Discover.Ns = &ns
	}
	if limit > 0 {
		m.Discover.Limit = &limit
	}
	return m
}

func unregisterMsg(ns string) *pb.Message {
	return &pb.Message{Type: pb.Message_UNREGISTER.Enum(), Unregister: &pb.Message_Unregister{Ns: &ns}}
}

func hostRecord(t testing.TB, h host.Host, f registry.RecordFormat, addrs ...ma.Multiaddr) []byte {
	t.Helper()
	if len(addrs) == 0 {
		addrs = []ma.Multiaddr{publicAddr}
	}
	return mustSeal(t, h.Peerstore().PrivKey(h.ID()), addrs, f)
}

func wantStatus(t testing.TB, err error, s Status) {
	t.Helper()
	var se *StatusError
	if !errors.As(err, &se) || se.Status != s {
		t.Fatalf("err = %v, want status %s", err, s)
	}
	if se.Text == "" {
		t.Fatalf("status %s without text", s)
	}
}
