// Package node assembles the rendezvous node: a go-libp2p host on
// WebSockets, WebRTC-direct and WebTransport with a persistent identity, the
// circuit relay v2 service, the discovery protocols, and the HTTP endpoints
// served on the WebSocket port.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	forge "github.com/ipshipyard/p2p-forge/client"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/cluster"
	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/node/autotls"
	"github.com/ws-star/rendezvous/node/capacity"
	"github.com/ws-star/rendezvous/node/deny"
	"github.com/ws-star/rendezvous/node/pings"
	"github.com/ws-star/rendezvous/node/relay"
	"github.com/ws-star/rendezvous/node/transports"
	"github.com/ws-star/rendezvous/protocols/legacy"
	"github.com/ws-star/rendezvous/protocols/pubsub"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

// Version is set at build time with -ldflags "-X github.com/ws-star/rendezvous/node.Version=...".
var Version = "dev"

// userAgent names the node in identify and to the AutoTLS forge.
func userAgent() string { return "ws-star-rendezvous/" + Version }

// Node is a running rendezvous node.
type Node struct {
	Host  host.Host
	Relay *circuit.Relay
	// Registry is the namespace store both discovery protocols share: the
	// in-memory registry, or Cluster when the node is in a cluster.
	Registry registry.Registry
	// Cluster is the shared registry; nil on a single node.
	Cluster    *cluster.Registry
	Rendezvous *rendezvous.Service
	WSStar     *wsstar.Service
	// Pubsub is gossipsub with the pubsub-peer-discovery bridge (nil when
	// pubsub.enabled is false).
	Pubsub *pubsub.Service
	// Legacy serves the old ws-star clients at /socket.io/ (nil when
	// legacy.enabled is false).
	Legacy *legacy.Service

	cfg     config.Config
	log     *slog.Logger
	metrics *prometheus.Registry
	started time.Time
	// up is set once New has started every service: the HTTP endpoints are
	// served by the host from before then.
	up           atomic.Bool
	reservations *relay.Reservations
	deny         *deny.List
	webrtcDirect *transports.WebRTCDirectGate // nil without a WebRTC-direct listener
	autoTLS      *autotls.Manager             // nil when autotls.enabled is false
	limits       *limits.Reporter
	stats        *registry.Memory // the registry's (or the local copy's) counts
	statsFn      func(*Status)
	servers      []*http.Server
	sideAddrs    map[string]string
	closers      []func() error // run in reverse order by Close

	closeOnce sync.Once
	closeErr  error
}

// Option adjusts how a node is built. An option that cannot be applied
// makes New fail with an error starting "node: ".
type Option func(*options) error

type options struct {
	log          *slog.Logger
	autoTLS      []forge.P2PForgeCertMgrOptions
	autoTLSAddrs func([]ma.Multiaddr)
}

// WithAutoTLSOptions adds options to the p2p-forge client of a node with
// autotls.enabled, after the node's own: a resolver, an HTTP client, a
// renewal check interval or private addresses, for a forge and a CA on a
// test network.
func WithAutoTLSOptions(opts ...forge.P2PForgeCertMgrOptions) Option {
	return func(o *options) error {
		o.autoTLS = append(o.autoTLS, opts...)
		return nil
	}
}

// WithAutoTLSAddrs makes the node call fn with its libp2p.direct addresses
// (with /p2p/<id>) once the AutoTLS certificate is loaded, which is after
// New returns. Without autotls.enabled fn is never called.
func WithAutoTLSAddrs(fn func([]ma.Multiaddr)) Option {
	return func(o *options) error {
		o.autoTLSAddrs = fn
		return nil
	}
}

// WithLogger sets the logger, to which each service adds its "component"
// attribute. Default: slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("node: nil logger")
		}
		o.log = l
		return nil
	}
}

// New builds and starts a node from a validated configuration. It fails when
// any configured listen address is not really listening.
func New(ctx context.Context, cfg config.Config, opts ...Option) (_ *Node, err error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	machine := capacity.Machine()
	_, sizedFrom := cfg.SizedFrom(machine)
	cfg = cfg.Sized(machine)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: o.log, started: time.Now(), reservations: relay.NewReservations()}
	defer func() {
		if err != nil {
			_ = n.Close(context.Background())
		}
	}()
	n.logCapacity(machine, sizedFrom)

	key, created, err := LoadOrCreateKey(cfg.Identity.KeyFile, cfg.Identity.RequireExisting)
	if err != nil {
		return nil, err
	}
	if created {
		n.log.Info("created a new identity key", "path", cfg.Identity.KeyFile)
	}
	listen, err := cfg.ListenAddrs()
	if err != nil {
		return nil, err
	}
	announce, err := cfg.AnnounceAddrs()
	if err != nil {
		return nil, err
	}
	noAnnounce, err := cfg.NoAnnounceAddrs()
	if err != nil {
		return nil, err
	}

	if cfg.Metrics.Enabled {
		n.metrics = newMetricsRegistry()
	}
	var reg prometheus.Registerer
	if n.metrics != nil {
		reg = n.metrics
	}
	if n.limits, err = limits.New(n.log, reg); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() error { n.limits.Close(); return nil })
	rm, resources, err := capacity.NewResourceManager(cfg, machine.Memory, n.limits)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		if err := reg.Register(resources); err != nil {
			_ = rm.Close()
			return nil, err
		}
	}
	cm, err := connmgr.NewConnManager(cfg.ConnManager.LowWater, cfg.ConnManager.HighWater,
		connmgr.WithGracePeriod(cfg.ConnManager.GracePeriod.D()))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}

	if n.deny, err = deny.New(cfg.Deny, n.log, reg); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, n.deny.Close)
	gaters := transports.GaterChain{n.deny}
	if cfg.HasWebRTCDirect() {
		if n.webrtcDirect, err = transports.NewWebRTCDirectGate(cfg.Resources.MaxWebRTCDirectConnections, n.limits, reg); err != nil {
			return nil, err
		}
		gaters = append(gaters, n.webrtcDirect)
	}

	// Until its handshake is done a connection counts in the resource
	// manager's transient scope, which every new connection needs: each step
	// before that gets the same short deadline.
	handshake := cfg.Resources.HandshakeTimeout.D()
	wsOpts := []any{
		ws.WithHandshakeTimeout(handshake),
		ws.WithHTTPServerConfig(func(s *http.Server) {
			s.ReadHeaderTimeout = handshake
			s.IdleTimeout = handshake
			s.MaxHeaderBytes = 16 << 10
			// HTTP/2 (h2c on /ws, h2 on /tls/ws) applies the idle timeout
			// only while no stream is open, and a client that grants no
			// flow-control window keeps every answer, and so its stream and
			// handler, open for good: without a write deadline one
			// connection held 250 streams and its transient slot forever.
			// WriteTimeout is per stream in HTTP/2 and per request in
			// HTTP/1.1 (gorilla clears it on a WebSocket upgrade).
			s.WriteTimeout = httpWriteTimeout
			s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: httpMaxStreams}
			if cfg.Legacy.Served(cfg.Namespaces) {
				transports.DivertUpgrades(s, legacy.Path)
			}
		}),
	}
	if cfg.HTTP.Enabled {
		metricsHere := cfg.Metrics.Enabled && cfg.Metrics.Addr == ""
		wsOpts = append(wsOpts, ws.WithHTTPHandler(n.httpHandler(metricsHere)))
	} else if cfg.Legacy.Served(cfg.Namespaces) {
		wsOpts = append(wsOpts, ws.WithHTTPHandler(n.legacyOnlyHandler()))
	}
	var tlsConf *tls.Config
	if cfg.TLS.CertFile != "" {
		cr, err := transports.NewCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, n.log)
		if err != nil {
			return nil, err
		}
		tlsConf = cr.TLSConfig()
	}
	addrsFactory := newAddrPolicy(announce, noAnnounce, cfg.AnnouncePrivate).filter
	var hostOpts []libp2p.Option
	if cfg.AutoTLS.Enabled {
		if n.autoTLS, err = autotls.New(cfg, n.log.With("component", "autotls"), userAgent(), o.autoTLS); err != nil {
			return nil, err
		}
		if fn := o.autoTLSAddrs; fn != nil {
			n.autoTLS.OnAddrs(func(addrs []ma.Multiaddr) {
				withID, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.Host.ID(), Addrs: addrs})
				if err == nil {
					fn(withID)
				}
			})
		}
		listen = append(listen, n.autoTLS.Listen()...)
		tlsConf = n.autoTLS.TLSConfig(tlsConf)
		policy := addrsFactory
		addrsFactory = func(in []ma.Multiaddr) []ma.Multiaddr { return n.autoTLS.Addrs(policy(in)) }
		// /ws and the AutoTLS /tls/sni listener on one port: go-libp2p
		// tells plain HTTP from TLS by the first bytes.
		hostOpts = append(hostOpts, libp2p.ShareTCPListener())
	}
	if tlsConf != nil {
		wsOpts = append(wsOpts, ws.WithTLSConfig(tlsConf))
	}

	hostOpts = append(hostOpts,
		libp2p.Identity(key),
		libp2p.ListenAddrs(listen...),
		libp2p.Transport(transports.WebSocket(config.ValidSubnets(cfg.ProxyProtocol.From), handshake, n.log), wsOpts...),
		libp2p.Muxer(yamux.ID, yamuxTransport(cfg.ConnManager.KeepAliveInterval.D())),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gaters),
		libp2p.AddrsFactory(addrsFactory),
		// Infrastructure: the relay must serve from the first second, not
		// after AutoNAT has made up its mind.
		libp2p.ForceReachabilityPublic(),
		// This node relays for others; it never dials through a relay.
		libp2p.DisableRelay(),
		libp2p.Ping(true),
		libp2p.UserAgent(userAgent()),
	)
	hostOpts = append(hostOpts, transports.UDP(cfg)...)
	if n.metrics != nil {
		hostOpts = append(hostOpts, libp2p.PrometheusRegisterer(n.metrics))
	} else {
		hostOpts = append(hostOpts, libp2p.DisableMetrics())
	}
	h, err := libp2p.New(hostOpts...)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	n.Host = h
	n.closers = append(n.closers, h.Close)
	if err := pings.AnswerFirst(h, reg); err != nil {
		return nil, err
	}
	n.deny.Start(h.Network())
	if n.webrtcDirect != nil {
		n.webrtcDirect.Start(h.Network())
	}
	if err := transports.CheckListening(listen, h.Network().ListenAddresses()); err != nil {
		return nil, err
	}

	if reg != nil {
		n.registerNodeMetrics(reg)
	}
	if n.autoTLS != nil {
		if err := n.autoTLS.Start(h, reg); err != nil {
			return nil, err
		}
		n.closers = append(n.closers, n.autoTLS.Close)
	}
	if cfg.Relay.Enabled {
		r, err := relay.Start(h, cfg.Relay, reg, n.reservations, n.limits)
		if err != nil {
			return nil, err
		}
		n.Relay = r
		n.closers = append(n.closers, r.Close)
	}
	if err := n.startServices(reg); err != nil {
		return nil, err
	}
	if err := n.startSideListeners(); err != nil {
		return nil, err
	}
	n.up.Store(true)
	n.log.Info("node started", "peer_id", h.ID(), "listen", h.Network().ListenAddresses(), "advertised", n.Addrs())
	return n, nil
}

// startSideListeners serves /metrics, pprof and the admin API on their own
// addresses when configured.
func (n *Node) startSideListeners() error {
	if n.cfg.Metrics.Enabled && n.cfg.Metrics.Addr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", n.metricsHandler())
		if err := n.serve("metrics", n.cfg.Metrics.Addr, mux); err != nil {
			return err
		}
	}
	if n.cfg.Pprof.Addr != "" {
		if err := n.serve("pprof", n.cfg.Pprof.Addr, pprofHandler()); err != nil {
			return err
		}
	}
	return n.startAdmin()
}

func (n *Node) serve(name, addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	n.servers = append(n.servers, srv)
	if n.sideAddrs == nil {
		n.sideAddrs = make(map[string]string)
	}
	n.sideAddrs[name] = l.Addr().String()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http listener stopped", "listener", name, "err", err)
		}
	}()
	n.log.Info("http listener started", "listener", name, "addr", l.Addr().String())
	return nil
}

// SideListenerAddr returns the bound address of the "metrics", "pprof" or
// "admin" listener, or "" when it is not running.
func (n *Node) SideListenerAddr(name string) string { return n.sideAddrs[name] }

// Addrs returns the node's advertised addresses with /p2p/<id> appended, the
// form a client pastes: WebSocket addresses first, then WebRTC-direct, then
// WebTransport, each with its current /certhash parts.
func (n *Node) Addrs() []ma.Multiaddr {
	if n.Host == nil {
		return nil
	}
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()})
	if err != nil {
		return nil
	}
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int { return transports.Rank(a) - transports.Rank(b) })
	return addrs
}

// Uptime is the time since the node started.
func (n *Node) Uptime() time.Duration { return time.Since(n.started) }

// Metrics is the registry every component reports to (nil when disabled).
func (n *Node) Metrics() *prometheus.Registry { return n.metrics }

// Close shuts the node down: discovery services first (so they can tell
// their peers), then the relay, the host and the HTTP listeners. It returns
// when done or when ctx expires. It is idempotent.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() {
			var errs []error
			for i := len(n.closers) - 1; i >= 0; i-- {
				if err := n.closers[i](); err != nil {
					errs = append(errs, err)
				}
			}
			for _, s := range n.servers {
				if err := s.Shutdown(ctx); err != nil {
					errs = append(errs, err)
				}
			}
			done <- errors.Join(errs...)
		}()
		select {
		case n.closeErr = <-done:
		case <-ctx.Done():
			n.closeErr = fmt.Errorf("shutdown did not finish in time: %w", ctx.Err())
		}
	})
	return n.closeErr
}

// yamuxTransport is go-libp2p's yamux with the node's ping interval. With
// tens of thousands of mostly idle browser connections, go-libp2p's 30 s
// keep-alive plus 30 s round-trip probe is most of the node's idle CPU; the
// clients ping on their own anyway.
// rttInterval is how often yamux re-measures a connection's round trip.
const rttInterval = time.Hour

func yamuxTransport(interval time.Duration) *yamux.Transport {
	t := *yamux.DefaultTransport
	t.KeepAliveInterval = interval
	// Nothing in go-libp2p reads yamux's RTT, and each measurement is one
	// more ping per connection: at 19,500 peers every 2 min it was a fifth
	// of the idle node's ping traffic. It must stay positive.
	t.MeasureRTTInterval = rttInterval
	// Noise under yamux already reads through a 4 KiB buffer and queues
	// what a short read leaves; yamux's own 4 KiB buffer on top is 4 KiB per
	// connection held for nothing.
	t.ReadBufSize = 0
	// Streams wait here only between yamux's receive loop and the swarm's
	// accept loop, which takes them at once; go-yamux's 256 slots are a
	// 2 KiB channel buffer per connection, 64 a fifth of it.
	t.AcceptBacklog = acceptBacklog
	return &t
}

// acceptBacklog is how many streams a connection may open that the node
// has not accepted yet; more are reset by yamux.
const acceptBacklog = 64
