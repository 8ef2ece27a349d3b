package wsstar

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// clientWriteTimeout bounds the client's writes.
const clientWriteTimeout = 10 * time.Second

// clientCloseTimeout bounds how long Close waits for the node to end its side
// before it resets the stream.
const clientCloseTimeout = 5 * time.Second

// JoinResult is the node's JoinAck.
type JoinResult struct {
	NS         string
	Status     pb.JoinAck_Status
	StatusText string
	MaxPeers   uint32
	Members    uint64
}

// StatusError is returned by Join for a non-OK JoinAck.
type StatusError struct {
	Status pb.JoinAck_Status
	Text   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("wsstar: join refused: %s: %s", e.Status, e.Text)
}

// PeerEvent is one decoded PeerEvent.
type PeerEvent struct {
	Kind  pb.PeerEvent_Kind
	Peer  peer.ID
	Addrs []ma.Multiaddr
	// SignedPeerRecord is the marshalled envelope, nil if the node has none.
	SignedPeerRecord []byte
	Reason           pb.LeftReason
}

// Message is what a Client delivers: *Update or *Closed.
type Message interface{ isMessage() }

// Update is one Peers message.
type Update struct {
	NS       string
	Snapshot bool
	Events   []PeerEvent
}

// Closed says the node ended a join.
type Closed struct {
	NS     string
	Reason pb.Closed_CloseReason
	Text   string
}

func (*Update) isMessage() {}
func (*Closed) isMessage() {}

// Client is one /ws-star/1.0.0 stream to a node. Reconnecting is the
// caller's business.
type Client struct {
	str network.Stream
	out chan Message

	wmu sync.Mutex // serialises writes and keeps acks matched to joins

	mu      sync.Mutex
	waiters []chan JoinResult // FIFO: acks come in the order of the joins
	joined  map[string]bool   // namespaces whose messages are delivered
	err     error
	done    chan struct{}

	closeOnce sync.Once
	closing   chan struct{} // closed by Close: the read loop stops delivering
}

// Dial opens a stream to node. Messages are delivered on C(), which buffers
// 64; a full channel stops the client reading from the stream, which is how a
// slow consumer pushes back to the node (and ends up with Closed{OVERFLOW}).
func Dial(ctx context.Context, h host.Host, node peer.ID) (*Client, error) {
	return DialBuffer(ctx, h, node, 64)
}

// DialBuffer is Dial with a channel buffer of buffer messages.
func DialBuffer(ctx context.Context, h host.Host, node peer.ID, buffer int) (*Client, error) {
	str, err := h.NewStream(ctx, node, ProtoID)
	if err != nil {
		return nil, err
	}
	c := &Client{
		str:     str,
		out:     make(chan Message, buffer),
		joined:  make(map[string]bool),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// C delivers updates and closes; it is closed when the stream ends.
func (c *Client) C() <-chan Message { return c.out }

// Done is closed when the stream has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the reason the stream ended (nil while it lives or after Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Join joins ns and waits for the ack. A non-OK ack returns the result and a
// *StatusError. After an OK ack the snapshot is the next message for ns on C().
func (c *Client) Join(ctx context.Context, ns string, announce bool, maxPeers uint32) (JoinResult, error) {
	ch := make(chan JoinResult, 1)
	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return JoinResult{}, err
	}
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	err := c.write(&pb.ClientMessage{Msg: &pb.ClientMessage_Join{Join: &pb.Join{Ns: ns, Announce: announce, MaxPeers: maxPeers}}})
	c.wmu.Unlock()
	if err != nil {
		return JoinResult{}, err
	}
	select {
	case r := <-ch:
		if r.Status != pb.JoinAck_OK {
			return r, &StatusError{Status: r.Status, Text: r.StatusText}
		}
		return r, nil
	case <-c.done:
		return JoinResult{}, c.endErr()
	case <-ctx.Done():
		return JoinResult{}, ctx.Err()
	}
}

// Leave leaves ns. Messages for ns still in flight are dropped.
func (c *Client) Leave(ns string) error {
	c.mu.Lock()
	delete(c.joined, ns)
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(&pb.ClientMessage{Msg: &pb.ClientMessage_Leave{Leave: &pb.Leave{Ns: ns}}})
}

// Close closes the stream: the node counts it as a clean leave of every
// namespace joined on it.
// It half-closes the stream and waits (at most clientCloseTimeout) for the
// node to end its side, so the node sees the end of the stream rather than a
// reset; messages still arriving are dropped.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		c.wmu.Lock()
		err = c.str.CloseWrite()
		c.wmu.Unlock()
		t := time.NewTimer(clientCloseTimeout)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			_ = c.str.Reset()
		}
	})
	return err
}

// Reset aborts the stream: the node counts it as a disconnect.
func (c *Client) Reset() error {
	return c.str.Reset()
}

func (c *Client) write(m *pb.ClientMessage) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if len(b) > MaxClientMessageSize {
		return errMessageTooLarge
	}
	_ = c.str.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
	_, err = c.str.Write(appendFrame(nil, b))
	return err
}

func (c *Client) endErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return network.ErrReset
}

func (c *Client) readLoop() {
	err := c.read()
	select {
	case <-c.closing:
		err = nil // the end Close asked for
	default:
	}
	c.mu.Lock()
	c.err = err
	c.waiters = nil
	c.mu.Unlock()
	close(c.done)
	close(c.out)
	_ = c.str.Reset()
}

func (c *Client) read() error {
	r := bufio.NewReader(c.str)
	for {
		b, err := readFrame(r, MaxServerMessageSize)
		if err != nil {
			return err
		}
		m, err := DecodeServerMessage(b)
		if err != nil {
			return err
		}
		switch {
		case m.GetAck() != nil:
			a := m.GetAck()
			res := JoinResult{NS: a.GetNs(), Status: a.GetStatus(), StatusText: a.GetStatusText(), MaxPeers: a.GetMaxPeers(), Members: a.GetMembers()}
			c.mu.Lock()
			if len(c.waiters) == 0 {
				c.mu.Unlock()
				return errors.New("wsstar: ack without a join")
			}
			w := c.waiters[0]
			c.waiters = c.waiters[1:]
			if res.Status == pb.JoinAck_OK {
				c.joined[res.NS] = true
			}
			c.mu.Unlock()
			w <- res
		case m.GetPeers() != nil:
			p := m.GetPeers()
			if !c.isJoined(p.GetNs()) {
				continue
			}
			u, err := decodeUpdate(p)
			if err != nil {
				return err
			}
			c.deliver(u)
		case m.GetClosed() != nil:
			cl := m.GetClosed()
			c.mu.Lock()
			delete(c.joined, cl.GetNs())
			c.mu.Unlock()
			c.deliver(&Closed{NS: cl.GetNs(), Reason: cl.GetReason(), Text: cl.GetText()})
		}
	}
}

// deliver hands m to the consumer, or drops it once Close has been called:
// nobody reads any more, and the loop must keep reading to see the node's end.
func (c *Client) deliver(m Message) {
	select {
	case c.out <- m:
	case <-c.closing:
	}
}

func (c *Client) isJoined(ns string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined[ns]
}

// decodeUpdate turns a Peers message into an Update; a malformed peer id ends
// the stream, a malformed address is skipped.
func decodeUpdate(p *pb.Peers) (*Update, error) {
	u := &Update{NS: p.GetNs(), Snapshot: p.GetSnapshot(), Events: make([]PeerEvent, 0, len(p.GetEvents()))}
	for _, e := range p.GetEvents() {
		id, err := peer.IDFromBytes(e.GetPeerId())
		if err != nil {
			return nil, fmt.Errorf("wsstar: bad peer id in event: %w", err)
		}
		pe := PeerEvent{Kind: e.GetKind(), Peer: id, SignedPeerRecord: e.GetSignedPeerRecord(), Reason: e.GetReason()}
		for _, ab := range e.GetAddrs() {
			if a, err := ma.NewMultiaddrBytes(ab); err == nil {
				pe.Addrs = append(pe.Addrs, a)
			}
		}
		u.Events = append(u.Events, pe)
	}
	return u, nil
}
