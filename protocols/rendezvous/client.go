package rendezvous

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
	"github.com/ws-star/rendezvous/registry"
)

// Registration is one result of Discover, its record verified.
type Registration struct {
	Namespace string
	Peer      peer.ID
	Addrs     []ma.Multiaddr
	// Envelope is the signed peer record as the server returned it.
	Envelope []byte
	Format   registry.RecordFormat
	TTL      time.Duration
}

type clientConfig struct {
	protos  []protocol.ID
	timeout time.Duration
	format  registry.RecordFormat
	addrs   func() []ma.Multiaddr
}

// ClientOption configures a Client.
type ClientOption func(*clientConfig)

// WithClientProtocols sets the protocol ids the client dials, in order of
// preference. Default: ProtoID.
func WithClientProtocols(ids ...protocol.ID) ClientOption {
	return func(c *clientConfig) { c.protos = ids }
}

// WithClientTimeout bounds each request when the context has no earlier
// deadline. Default: 30 s.
func WithClientTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) { c.timeout = d }
}

// WithRecordFormat sets the format of the records Register signs
// (registry.FormatPeerRecord or registry.FormatRoutingState). Default:
// registry.FormatPeerRecord.
func WithRecordFormat(f registry.RecordFormat) ClientOption {
	return func(c *clientConfig) { c.format = f }
}

// WithAddrs sets the addresses Register puts in its record. Default: the
// host's addresses (h.Addrs()); a browser-like host passes its relayed ones.
func WithAddrs(addrs func() []ma.Multiaddr) ClientOption {
	return func(c *clientConfig) { c.addrs = addrs }
}

// Client talks to one rendezvous point. Requests other than Unregister share
// one stream, opened on first use and replaced after a failure; a Client is
// safe for concurrent use (requests are serialised).
type Client struct {
	h      host.Host
	server peer.ID
	cfg    clientConfig

	mu  sync.Mutex
	str network.Stream
	r   *bufio.Reader
}

// NewClient returns a client of the rendezvous point server. The host must be
// able to reach server (be connected, or know its addresses).
func NewClient(h host.Host, server peer.ID, opts ...ClientOption) *Client {
	cfg := clientConfig{
		protos:  []protocol.ID{ProtoID},
		timeout: DefaultStreamTimeout,
		format:  registry.FormatPeerRecord,
		addrs:   h.Addrs,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &Client{h: h, server: server, cfg: cfg}
}

// Register registers the host in ns with a freshly signed record of its
// addresses and returns the granted TTL. A zero ttl asks for the server's
// default.
func (c *Client) Register(ctx context.Context, ns string, ttl time.Duration) (time.Duration, error) {
	key := c.h.Peerstore().PrivKey(c.h.ID())
	if key == nil {
		return 0, errors.New("rendezvous: host has no private key")
	}
	env, err := SealRecord(key, c.cfg.addrs(), c.cfg.format)
	if err != nil {
		return 0, err
	}
	return c.RegisterEnvelope(ctx, ns, env, ttl)
}

// RegisterEnvelope registers with a signed envelope made by the caller (see
// SealRecord), sent as is.
func (c *Client) RegisterEnvelope(ctx context.Context, ns string, envelope []byte, ttl time.Duration) (time.Duration, error) {
	secs := uint64(ttl / time.Second)
	req := &pb.Message{
		Type:     pb.Message_REGISTER.Enum(),
		Register: &pb.Message_Register{Ns: &ns, SignedPeerRecord: envelope},
	}
	if secs > 0 {
		req.Register.Ttl = &secs
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return 0, err
	}
	rr := resp.GetRegisterResponse()
	if resp.GetType() != pb.Message_REGISTER_RESPONSE || rr == nil {
		return 0, fmt.Errorf("rendezvous: unexpected reply %s to REGISTER", resp.GetType())
	}
	if rr.GetStatus() != StatusOK {
		return 0, &StatusError{Status: rr.GetStatus(), Text: rr.GetStatusText()}
	}
	if rr.Ttl == nil {
		return 0, errors.New("rendezvous: REGISTER_RESPONSE without ttl")
	}
	return time.Duration(rr.GetTtl()) * time.Second, nil
}

// Discover returns up to limit registrations of ns ("" = all namespaces)
// after cookie (nil = from the start), and the cookie to continue from. A
// zero limit asks for the server's default.
func (c *Client) Discover(ctx context.Context, ns string, limit int, cookie []byte) ([]Registration, []byte, error) {
	d := &pb.Message_Discover{Cookie: cookie}
	if ns != "" {
		d.Ns = &ns
	}
	if limit > 0 {
		l := uint64(limit)
		d.Limit = &l
	}
	resp, err := c.roundTrip(ctx, &pb.Message{Type: pb.Message_DISCOVER.Enum(), Discover: d})
	if err != nil {
		return nil, nil, err
	}
	dr := resp.GetDiscoverResponse()
	if resp.GetType() != pb.Message_DISCOVER_RESPONSE || dr == nil {
		return nil, nil, fmt.Errorf("rendezvous: unexpected reply %s to DISCOVER", resp.GetType())
	}
	if dr.GetStatus() != StatusOK {
		return nil, nil, &StatusError{Status: dr.GetStatus(), Text: dr.GetStatusText()}
	}
	out := make([]Registration, 0, len(dr.Registrations))
	for _, r := range dr.Registrations {
		rec, err := verifyRecord(r.GetSignedPeerRecord())
		if err != nil {
			return nil, nil, fmt.Errorf("rendezvous: server returned an invalid record: %w", err)
		}
		out = append(out, Registration{
			Namespace: r.GetNs(),
			Peer:      rec.Peer,
			Addrs:     rec.Addrs,
			Envelope:  r.GetSignedPeerRecord(),
			Format:    rec.Format,
			TTL:       time.Duration(r.GetTtl()) * time.Second,
		})
	}
	return out, dr.GetCookie(), nil
}

// Unregister removes the host's registration in ns. The protocol has no
// reply, so it sends on a stream of its own, half-closes it and waits for the
// server to close its side: the server has then handled it.
func (c *Client) Unregister(ctx context.Context, ns string) error {
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	str, err := c.h.NewStream(ctx, c.server, c.cfg.protos...)
	if err != nil {
		return err
	}
	setDeadline(ctx, str)
	req := &pb.Message{Type: pb.Message_UNREGISTER.Enum(), Unregister: &pb.Message_Unregister{Ns: &ns}}
	if err := writeMsg(str, req); err != nil {
		_ = str.Reset()
		return err
	}
	if err := str.CloseWrite(); err != nil {
		_ = str.Reset()
		return err
	}
	var one [1]byte
	if n, err := io.ReadFull(str, one[:]); n > 0 || !errors.Is(err, io.EOF) {
		_ = str.Reset()
		if err == nil || n > 0 {
			err = errors.New("rendezvous: unexpected reply to UNREGISTER")
		}
		return err
	}
	return str.Close()
}

// Close resets the client's stream, if any.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.str != nil {
		_ = c.str.Reset()
		c.str, c.r = nil, nil
	}
	return nil
}

func (c *Client) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.timeout)
}

func setDeadline(ctx context.Context, str network.Stream) {
	if dl, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(dl)
	}
}

// roundTrip sends req and reads one reply on the shared stream. A failure on
// a reused stream is retried once on a new one: the server may have closed
// the old one for idleness.
func (c *Client) roundTrip(ctx context.Context, req *pb.Message) (*pb.Message, error) {
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		fresh := c.str == nil
		if fresh {
			str, err := c.h.NewStream(ctx, c.server, c.cfg.protos...)
			if err != nil {
				return nil, err
			}
			c.str, c.r = str, bufio.NewReader(str)
		}
		resp, err := c.exchange(ctx, req)
		if err == nil {
			return resp, nil
		}
		_ = c.str.Reset()
		c.str, c.r = nil, nil
		if fresh || attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
	}
}

func (c *Client) exchange(ctx context.Context, req *pb.Message) (*pb.Message, error) {
	setDeadline(ctx, c.str)
	if err := writeMsg(c.str, req); err != nil {
		return nil, err
	}
	b, err := readFrame(c.r, maxResponseSize+MaxMessageSize)
	if err != nil {
		return nil, err
	}
	return decodeMessage(b)
}
