package transports

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/transport/tcpreuse"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/pires/go-proxyproto"
)

// maxPendingProxyHeaders bounds the connections from proxies whose PROXY
// header is still being read; past it new ones are closed.
const maxPendingProxyHeaders = 1024

// WebSocket is the constructor of the WebSocket transport given to
// libp2p.Transport. With proxies configured, its listeners read the PROXY
// protocol header (v1 or v2) of every connection from them before go-libp2p
// sees the connection, so that the resource manager's per-IP caps, the
// gater and the logs see the client's address rather than the proxy's.
//
// go-libp2p's WebSocket listener takes its sockets from manet.Listen and
// hands them to the upgrader's GateMaListener; wrapping the upgrader is the
// one place a listener can be wrapped without a fork.
func WebSocket(proxies []netip.Prefix, timeout time.Duration, log *slog.Logger) any {
	if len(proxies) == 0 {
		return ws.New
	}
	return func(u transport.Upgrader, rcmgr network.ResourceManager, shared *tcpreuse.ConnMgr, opts ...ws.Option) (*ws.WebsocketTransport, error) {
		return ws.New(proxyUpgrader{Upgrader: u, proxies: proxies, timeout: timeout, log: log}, rcmgr, shared, opts...)
	}
}

type proxyUpgrader struct {
	transport.Upgrader
	proxies []netip.Prefix
	timeout time.Duration
	log     *slog.Logger
}

func (u proxyUpgrader) GateMaListener(l manet.Listener) transport.GatedMaListener {
	pl := &proxyListener{
		Listener: l,
		u:        u,
		conns:    make(chan manet.Conn),
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
		pending:  make(chan struct{}, maxPendingProxyHeaders),
	}
	go pl.acceptLoop()
	return u.Upgrader.GateMaListener(pl)
}

// proxyListener reads PROXY headers off the accept path: a slow proxy
// connection must not hold up the others.
type proxyListener struct {
	manet.Listener
	u proxyUpgrader

	conns     chan manet.Conn
	done      chan struct{} // the inner listener failed; err says why
	err       error
	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	pending   chan struct{}
}

func (l *proxyListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.err = err
			close(l.done)
			return
		}
		if !l.fromProxy(c.RemoteAddr()) {
			l.deliver(c)
			continue
		}
		select {
		case l.pending <- struct{}{}:
		default:
			l.u.log.Warn("connection from a proxy refused: too many PROXY headers being read",
				"remote_addr", c.RemoteAddr().String(), "limit", maxPendingProxyHeaders)
			_ = c.Close()
			continue
		}
		go func() {
			defer func() { <-l.pending }()
			pc, err := l.readHeader(c)
			if err != nil {
				l.u.log.Debug("connection from a proxy refused", "remote_addr", c.RemoteAddr().String(), "err", err)
				_ = c.Close()
				return
			}
			l.deliver(pc)
		}()
	}
}

func (l *proxyListener) fromProxy(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.u.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var errNoProxyHeader = errors.New("no PROXY protocol header from a configured proxy")

// readHeader requires a PROXY header (a receiver must not guess whether one
// is there) within the handshake timeout. A LOCAL header (a proxy's own
// health check) keeps the proxy's address.
func (l *proxyListener) readHeader(c manet.Conn) (manet.Conn, error) {
	pc := proxyproto.NewConn(c, proxyproto.WithPolicy(proxyproto.REQUIRE), proxyproto.SetReadHeaderTimeout(l.u.timeout))
	if pc.ProxyHeader() == nil {
		return nil, errNoProxyHeader
	}
	return manet.WrapNetConn(proxiedConn{Conn: pc, local: c.LocalAddr()})
}

// proxiedConn keeps the listener's own address as the local one: the
// header's destination is the proxy's front end.
type proxiedConn struct {
	*proxyproto.Conn
	local net.Addr
}

func (c proxiedConn) LocalAddr() net.Addr { return c.local }

func (l *proxyListener) deliver(c manet.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = c.Close()
	}
}

func (l *proxyListener) Accept() (manet.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, l.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close is idempotent: go-libp2p's WebSocket listener closes it twice (its
// own Close, then its HTTP server's).
func (l *proxyListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}
