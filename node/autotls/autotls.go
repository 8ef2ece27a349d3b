// Package autotls runs the p2p-forge client for a node with
// autotls.enabled: it registers the node with the forge, which publishes the
// ACME DNS-01 answer, gets the *.<peer id>.<forge domain> certificate into
// autotls.store and renews it ahead of expiry (certmagic). Until a
// certificate is loaded the node advertises no forge address and keeps
// serving everything else; the client retries failures with backoff.
package autotls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	forge "github.com/ipshipyard/p2p-forge/client"
	"github.com/libp2p/go-libp2p/config"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/multiformats/go-multibase"
	"github.com/prometheus/client_golang/prometheus"

	rcfg "github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/node/transports"
)

// Manager is the node's AutoTLS certificate manager.
type Manager struct {
	mgr     *forge.P2PForgeCertMgr
	domain  string
	listen  []ma.Multiaddr
	sni     ma.Multiaddr // /tls/sni/*.<domain>/ws
	log     *slog.Logger
	flog    *forgeLog
	rewrite config.AddrsFactory

	host    host.Host
	expiry  atomic.Int64 // NotAfter of the served certificate, Unix seconds; 0 before one
	metrics *promreg.Set

	failures  prometheus.Counter
	renewals  prometheus.Counter
	onAddrs   func([]ma.Multiaddr)
	handedOut atomic.Bool
}

// OnAddrs makes the manager call fn with the forge addresses once, when a
// certificate is first loaded and the host advertises them. Call before
// Start.
func (a *Manager) OnAddrs(fn func([]ma.Multiaddr)) { a.onAddrs = fn }

// New builds the manager from a validated configuration; extra options
// go after the node's own (a resolver, an HTTP client, a renewal check
// interval or private addresses, for a forge and a CA on a test network).
// userAgent names the node to the forge.
func New(cfg rcfg.Config, log *slog.Logger, userAgent string, extra []forge.P2PForgeCertMgrOptions) (*Manager, error) {
	listen, err := cfg.AutoTLSListenAddrs()
	if err != nil {
		return nil, err
	}
	a := &Manager{
		domain: cfg.AutoTLS.ForgeDomain,
		listen: listen,
		log:    log,
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_autotls_failures_total",
			Help: "Failed attempts to get or renew the AutoTLS certificate (forge unreachable or refusing, ACME order failed), as the p2p-forge client reports them.",
		}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_autotls_renewals_total",
			Help: "AutoTLS certificates renewed while the node ran.",
		}),
	}
	if a.sni, err = ma.NewMultiaddr("/tls/sni/*." + a.domain + "/ws"); err != nil {
		return nil, fmt.Errorf("autotls.forge_domain %q: %w", a.domain, err)
	}
	a.flog = newForgeLog(log, a.failures.Inc)
	opts := []forge.P2PForgeCertMgrOptions{
		forge.WithForgeDomain(a.domain),
		forge.WithForgeRegistrationEndpoint(cfg.AutoTLS.RegistrationEndpoint),
		forge.WithCAEndpoint(cfg.AutoTLS.CADirectory),
		forge.WithCertificateStorage(&certmagic.FileStorage{Path: cfg.AutoTLSStoreDir()}),
		forge.WithUserAgent(userAgent),
		forge.WithLogger(a.flog.sugared()),
		forge.WithOnCertLoaded(func() { go a.loaded(false) }),
		forge.WithOnCertRenewed(func() { go a.loaded(true) }),
	}
	if f := cfg.AutoTLS.TrustedRoots; f != "" {
		pool, err := loadRoots(f)
		if err != nil {
			return nil, err
		}
		opts = append(opts, forge.WithTrustedRoots(pool))
	}
	if a.mgr, err = forge.NewP2PForgeCertMgr(append(opts, extra...)...); err != nil {
		return nil, fmt.Errorf("autotls: %w", err)
	}
	a.rewrite = a.mgr.AddressFactory()
	return a, nil
}

func loadRoots(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("autotls.trusted_roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("autotls.trusted_roots: %s holds no PEM certificate", file)
	}
	return pool, nil
}

// Listen are the listen addresses AutoTLS adds (see
// config.AutoTLSListenAddrs).
func (a *Manager) Listen() []ma.Multiaddr { return a.listen }

// TLSConfig serves the AutoTLS certificate for the forge's names and own
// (the node's own certificate, or nil) for every other name.
func (a *Manager) TLSConfig(own *tls.Config) *tls.Config {
	return transports.ByServerName(own, a.mgr.TLSConfig(), a.domain)
}

// Start hands the host to the client and starts it; the metrics go to reg
// (nil: none).
func (a *Manager) Start(h host.Host, reg prometheus.Registerer) error {
	a.host = h
	expiry := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rendezvous_autotls_certificate_expiry_timestamp_seconds",
		Help: "When the AutoTLS certificate the node serves expires (Unix time); 0 until one is loaded.",
	}, func() float64 { return float64(a.expiry.Load()) })
	var err error
	if a.metrics, err = promreg.Register(reg, expiry, a.failures, a.renewals); err != nil {
		return err
	}
	a.mgr.ProvideHost(h)
	if err := a.mgr.Start(); err != nil {
		a.metrics.Unregister()
		return fmt.Errorf("autotls: %w", err)
	}
	a.log.Info("AutoTLS started", "forge_domain", a.domain, "name", a.certName())
	return nil
}

// Close stops the client and removes the metrics.
func (a *Manager) Close() error {
	a.mgr.Stop()
	a.metrics.Unregister()
	return nil
}

// certName is the certificate's wildcard name, *.<peer id in base36>.<domain>.
func (a *Manager) certName() string {
	return "*." + peer.ToCid(a.host.ID()).Encode(multibase.MustNewEncoder(multibase.Base36)) + "." + a.domain
}

// loaded records the served certificate's expiry and, once the host
// advertises them, logs the forge addresses.
func (a *Manager) loaded(renewal bool) {
	a.flog.succeeded()
	if renewal {
		a.renewals.Inc()
	}
	hello := &tls.ClientHelloInfo{ServerName: "x" + strings.TrimPrefix(a.certName(), "*")}
	cert, err := a.mgr.TLSConfig().GetCertificate(hello)
	if err != nil || cert == nil || len(cert.Certificate) == 0 {
		a.log.Warn("AutoTLS certificate loaded but not found for serving", "name", a.certName(), "err", err)
		return
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			a.log.Warn("AutoTLS certificate unreadable", "err", err)
			return
		}
	}
	a.expiry.Store(leaf.NotAfter.Unix())
	msg := "AutoTLS certificate loaded"
	if renewal {
		msg = "AutoTLS certificate renewed"
	}
	// The host recomputes its addresses every few seconds.
	deadline := time.Now().Add(30 * time.Second)
	var addrs []ma.Multiaddr
	for {
		addrs = a.forgeAddrs()
		if len(addrs) > 0 || renewal || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	a.log.Info(msg, "name", a.certName(), "not_after", leaf.NotAfter, "addrs", addrs)
	// The certificate is cached again on each renewal: hand the addresses
	// out the first time only.
	if len(addrs) > 0 && a.onAddrs != nil && a.handedOut.CompareAndSwap(false, true) {
		a.onAddrs(addrs)
	}
}

// forgeAddrs are the host's advertised addresses under the forge domain.
func (a *Manager) forgeAddrs() []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, m := range a.host.Addrs() {
		if strings.Contains(m.String(), "."+a.domain+"/") {
			out = append(out, m)
		}
	}
	return out
}

// Addrs is the AddrsFactory step after the node's address policy: the
// AutoTLS listeners' own addresses (/tls/sni/*.<domain>/ws, never dialable
// as such) are dropped, every advertised /ipX/<ip>/tcp/<port> WebSocket
// address (listened on or announced) gets its /tls/sni/*.<domain>/ws
// sibling, and the client turns those into
// /ipX/<ip>/tcp/<port>/tls/sni/<ip>.<peer id>.<domain>/ws once it has the
// certificate (and hides them before).
func (a *Manager) Addrs(in []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, 2*len(in))
	for _, m := range in {
		if !a.isListener(m) {
			out = append(out, m)
		}
	}
	seen := map[string]bool{}
	for _, m := range slices.Clone(out) {
		// /ws and /tls/ws on one port make one sibling.
		if base, ok := wsBase(m); ok && !seen[base.String()] {
			seen[base.String()] = true
			out = append(out, append(slices.Clone(base), a.sni...))
		}
	}
	return a.rewrite(out)
}

func (a *Manager) isListener(m ma.Multiaddr) bool {
	v, err := m.ValueForProtocol(ma.P_SNI)
	return err == nil && v == "*."+a.domain
}

// wsBase is /ipX/<ip>/tcp/<port> of an IP WebSocket address (/ws or
// /tls/ws, without /p2p).
func wsBase(m ma.Multiaddr) (ma.Multiaddr, bool) {
	if len(m) < 3 || (m[0].Code() != ma.P_IP4 && m[0].Code() != ma.P_IP6) || m[1].Code() != ma.P_TCP {
		return nil, false
	}
	switch rest := m[2:]; {
	case len(rest) == 1 && rest[0].Code() == ma.P_WS,
		len(rest) == 2 && rest[0].Code() == ma.P_TLS && rest[1].Code() == ma.P_WS:
		return m[:2], true
	}
	return nil, false
}
