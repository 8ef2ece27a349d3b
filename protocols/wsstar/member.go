package wsstar

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/backoff"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// Defaults of a Member's reconnect timing: a restarted node is back within
// seconds, and thousands of members must not all return in the same instant.
const (
	DefaultReconnectMin = 500 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
	memberStepTimeout   = 30 * time.Second
)

// Reconnected is delivered by a Member each time it has connected and joined
// every namespace again; the snapshots of the new joins follow it.
type Reconnected struct {
	// Attempts is how many tries this took (1 when the first one worked).
	Attempts int
}

func (*Reconnected) isMessage() {}

type memberConfig struct {
	reserve  bool
	announce bool
	maxPeers uint32
	backoff  backoff.BackoffFactory
	buffer   int
}

// MemberOption configures a Member.
type MemberOption func(*memberConfig) error

// WithReservation makes the member hold a relay reservation on the node,
// taken again after every reconnect and renewed before it expires, as a
// browser peer does to be reachable through the node.
func WithReservation() MemberOption {
	return func(c *memberConfig) error { c.reserve = true; return nil }
}

// AsWatcher joins without announcing: the member sees the namespaces but is
// not shown in them.
func AsWatcher() MemberOption {
	return func(c *memberConfig) error { c.announce = false; return nil }
}

// WithViewSize asks for views of at most n members (0: the node's default).
func WithViewSize(n uint32) MemberOption {
	return func(c *memberConfig) error { c.maxPeers = n; return nil }
}

// WithReconnectBackoff sets the delays between reconnect attempts: jittered
// and growing from min to max, reset after each successful reconnect.
func WithReconnectBackoff(min, max time.Duration) MemberOption {
	return func(c *memberConfig) error {
		if min <= 0 || max < min {
			return fmt.Errorf("wsstar: reconnect backoff %s..%s: need 0 < min <= max", min, max)
		}
		c.backoff = backoff.NewExponentialDecorrelatedJitter(min, max, 2, rand.NewSource(time.Now().UnixNano()))
		return nil
	}
}

// Member keeps a peer joined to namespaces on one node through lost
// connections and node restarts: it connects, optionally reserves, joins
// every namespace and, whenever the stream ends, tries again with backoff
// until Close.
type Member struct {
	h     host.Host
	node  peer.AddrInfo
	nss   []string
	cfg   memberConfig
	out   chan Message
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	cur   *Client
	lastE error
}

// NewMember starts keeping h joined to namespaces on node. Messages of every
// connection arrive on C(), each connection's preceded by *Reconnected.
func NewMember(h host.Host, node peer.AddrInfo, namespaces []string, opts ...MemberOption) (*Member, error) {
	if len(namespaces) == 0 {
		return nil, errors.New("wsstar: member needs at least one namespace")
	}
	cfg := memberConfig{announce: true, buffer: 64}
	if err := WithReconnectBackoff(DefaultReconnectMin, DefaultReconnectMax)(&cfg); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Member{
		h: h, node: node, nss: append([]string(nil), namespaces...), cfg: cfg,
		out: make(chan Message, cfg.buffer), ctx: ctx, stop: cancel, done: make(chan struct{}),
	}
	go m.run()
	return m, nil
}

// C delivers the messages of every connection; it is closed after Close.
func (m *Member) C() <-chan Message { return m.out }

// Err is the error of the last failed attempt, nil after a success.
func (m *Member) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastE
}

// Close leaves cleanly and stops reconnecting. It is idempotent.
func (m *Member) Close() error {
	m.once.Do(func() {
		m.stop()
		m.mu.Lock()
		c := m.cur
		m.mu.Unlock()
		if c != nil {
			_ = c.Close()
		}
	})
	<-m.done
	return nil
}

func (m *Member) run() {
	defer close(m.done)
	defer close(m.out)
	b := m.cfg.backoff()
	attempts := 0
	for m.ctx.Err() == nil {
		attempts++
		c, renew, err := m.connect()
		m.mu.Lock()
		m.lastE = err
		m.mu.Unlock()
		if err != nil {
			if !m.wait(b.Delay()) {
				return
			}
			continue
		}
		b.Reset()
		if m.ctx.Err() != nil || !m.send(&Reconnected{Attempts: attempts}) {
			_ = c.Close() // Close came while connecting: leave cleanly
			return
		}
		attempts = 0
		m.follow(c, renew)
		if !m.wait(b.Delay()) {
			return
		}
	}
}

// connect brings up one connection: connect, reserve, open the stream and
// join every namespace. renew is when the reservation needs renewing.
func (m *Member) connect() (*Client, <-chan time.Time, error) {
	ctx, cancel := context.WithTimeout(m.ctx, memberStepTimeout)
	defer cancel()
	// The member paces its own attempts; the swarm's per-address dial
	// backoff (5 s and growing) would only delay the return of a restarted
	// node, so it is skipped.
	if err := m.h.Connect(network.WithForceDirectDial(ctx, "ws-star member"), m.node); err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	renew, err := m.reserve(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := DialBuffer(ctx, m.h, m.node.ID, m.cfg.buffer)
	if err != nil {
		return nil, nil, fmt.Errorf("open stream: %w", err)
	}
	m.mu.Lock()
	m.cur = c
	m.mu.Unlock()
	for _, ns := range m.nss {
		if _, err := c.Join(ctx, ns, m.cfg.announce, m.cfg.maxPeers); err != nil {
			_ = c.Reset()
			return nil, nil, fmt.Errorf("join %q: %w", ns, err)
		}
	}
	return c, renew, nil
}

// reserve takes a reservation when configured and says when to renew it:
// at two thirds of its lifetime.
func (m *Member) reserve(ctx context.Context) (<-chan time.Time, error) {
	if !m.cfg.reserve {
		return nil, nil
	}
	r, err := client.Reserve(ctx, m.h, m.node)
	if err != nil {
		return nil, fmt.Errorf("reserve: %w", err)
	}
	return time.After(time.Until(r.Expiration) * 2 / 3), nil
}

// follow forwards c's messages until its stream ends, renewing the
// reservation on time. A namespace the node closed (a lagging view's
// OVERFLOW, a policy) ends the whole connection: reconnecting rejoins it.
func (m *Member) follow(c *Client, renew <-chan time.Time) {
	defer func() {
		m.mu.Lock()
		m.cur = nil
		m.mu.Unlock()
		if m.ctx.Err() != nil {
			_ = c.Close() // a clean leave, as Close promises
		} else {
			_ = c.Reset()
		}
	}()
	for {
		select {
		case msg, ok := <-c.C():
			if !ok {
				return
			}
			if !m.send(msg) {
				return
			}
			if cl, isClosed := msg.(*Closed); isClosed && cl.Reason != pb.Closed_CLOSE_REASON_UNSPECIFIED {
				return
			}
		case <-renew:
			ctx, cancel := context.WithTimeout(m.ctx, memberStepTimeout)
			var err error
			renew, err = m.reserve(ctx)
			cancel()
			if err != nil {
				m.mu.Lock()
				m.lastE = err
				m.mu.Unlock()
				return
			}
		case <-m.ctx.Done():
			return
		}
	}
}

func (m *Member) send(msg Message) bool {
	select {
	case m.out <- msg:
		return true
	case <-m.ctx.Done():
		return false
	}
}

func (m *Member) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.ctx.Done():
		return false
	}
}
