package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig configures the NATS server a node embeds.
type ServerConfig struct {
	// Name must be stable across restarts (JetStream's replicas know the
	// server by it) and unique in the cluster: the node's peer ID.
	Name string
	// Cluster is the NATS cluster name, the same on every node.
	Cluster string
	// Listen is host:port for the other servers' route connections.
	Listen string
	// Routes are the other servers' Listen addresses.
	Routes []string
	// StoreDir holds JetStream's files.
	StoreDir string
	// ClientListen, when set, also serves NATS clients on host:port.
	ClientListen string
	// SyncInterval is how often JetStream fsyncs its files (0: its own
	// default, 2 min); SyncAlways fsyncs every write before acknowledging it.
	SyncInterval time.Duration
	SyncAlways   bool
	Logger       *slog.Logger
}

// DefaultSyncInterval is the node's JetStream fsync interval. JetStream
// acknowledges a write once a majority of the replicas has it in its files,
// written but not necessarily fsynced: a killed process loses nothing, only
// a majority of machines losing power or their kernel together within the
// interval can lose the writes of its last interval. JetStream's own 2 min
// default leaves that window long; 10 s narrows it for about nothing (a few
// fsyncs a minute), while fsyncing every write costs each registration a
// disk flush on every replica (see docs/reliability.md, Cluster faults).
const DefaultSyncInterval = 10 * time.Second

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections. With routes it forms a cluster with the other
// nodes as they come up; JetStream needs a majority of them to take writes.
func StartServer(cfg ServerConfig) (*EmbeddedServer, error) {
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster listen %q: %w", cfg.Listen, err)
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		SyncAlways: cfg.SyncAlways,
		Cluster: server.ClusterOpts{
			Name: cfg.Cluster,
			Host: host,
			Port: port,
		},
	}
	if cfg.SyncInterval > 0 {
		opts.SyncInterval = cfg.SyncInterval
	}
	if cfg.ClientListen != "" {
		opts.Host, opts.Port, err = splitHostPort(cfg.ClientListen)
		if err != nil {
			return nil, fmt.Errorf("cluster client listen %q: %w", cfg.ClientListen, err)
		}
	}
	var token string
	if cfg.ClientListen == "" {
		// The server routes only once its client listener is up, so it gets
		// one on a random loopback port, closed to everyone by a random
		// token that only the node's in-process connection knows.
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
		token = randomToken()
		opts.Authorization = token
	}
	routes := make([]string, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routes = append(routes, "nats-route://"+r)
	}
	if len(routes) > 0 {
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
	} else {
		// Clustered JetStream refuses to start without a route (and does not
		// elect itself with one to itself): with no other node, JetStream
		// runs on its own and no route port is opened.
		opts.Cluster = server.ClusterOpts{}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLoggerV2(&natsLogger{log: cfg.Logger}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start listening on %s", cfg.Listen)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS server on %s: JetStream did not start (its log says why)", cfg.Listen)
	}
	return &EmbeddedServer{srv: s, token: token}, nil
}

// EmbeddedServer is a NATS server running inside the node.
type EmbeddedServer struct {
	srv   *server.Server
	token string
}

// Client is the configuration of the node's in-process connection to it.
func (e *EmbeddedServer) Client(name string) ClientConfig {
	return ClientConfig{Server: e.srv, Token: e.token, Name: name}
}

// ClientAddr is the configured client listener's address, "" without one.
func (e *EmbeddedServer) ClientAddr() string {
	if e.token != "" {
		return ""
	}
	if a := e.srv.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Shutdown stops the server and waits until it has.
func (e *EmbeddedServer) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// natsLogger routes the server's log into the node's: notices are its
// start-up chatter, so they go to Debug. Warnings and errors repeat every
// few hundred milliseconds while a route is down, so each kind (format
// string) is logged at most once per logEvery, with a count of the rest.
type natsLogger struct {
	log *slog.Logger

	mu   sync.Mutex
	seen map[string]*repeats
}

type repeats struct {
	last       time.Time
	suppressed int
}

const logEvery = 30 * time.Second

func (l *natsLogger) limited(level slog.Level, format string, v []any) {
	now := time.Now()
	l.mu.Lock()
	if l.seen == nil {
		l.seen = make(map[string]*repeats)
	}
	r := l.seen[format]
	if r == nil {
		r = &repeats{}
		l.seen[format] = r
	}
	if !r.last.IsZero() && now.Sub(r.last) < logEvery {
		r.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := r.suppressed
	r.last, r.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "repeats_not_logged", suppressed)
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.limited(slog.LevelWarn, format, v) }
func (l *natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.limited(slog.LevelError, format, v) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  {}

// ClientConfig configures the node's connection to NATS.
type ClientConfig struct {
	// URLs of the servers (external mode); ignored with Server.
	URLs []string
	// Server connects in-process to an embedded server instead.
	Server *server.Server
	// Token authenticates to Server when it has no configured client port.
	Token string
	// Creds is a .creds file; TLSCA a PEM file of CAs for tls:// servers.
	Creds, TLSCA string
	// Name is how the connection shows in the server's monitoring.
	Name string
}

// Connect opens the node's NATS connection. It returns even when no server
// is reachable yet: the connection keeps trying, and the Registry serves
// from its local copy meanwhile.
func Connect(cfg ClientConfig) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.Timeout(2 * time.Second),
		// Find a dead server in seconds, not minutes.
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
		// No buffering while reconnecting: a write fails at once and is
		// deferred, instead of reaching JetStream late (a late lease renewal
		// would then fail its compare-and-swap and look like a lost lease).
		nats.ReconnectBufSize(-1),
	}
	url := strings.Join(cfg.URLs, ",")
	if cfg.Server != nil {
		url = ""
		opts = append(opts, nats.InProcessServer(cfg.Server))
		if cfg.Token != "" {
			opts = append(opts, nats.Token(cfg.Token))
		}
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}
