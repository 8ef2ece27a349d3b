package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/selfsigned"
)

// Connections stalled on the node's TLS WebSocket listener (/tls/ws): in
// the TLS handshake, and after it in the WebSocket upgrade.

// tlsListen is the TLS WebSocket listener a started node gets for the
// tls-slowloris attack, next to its plain /ws one.
const tlsListen = "/ip4/127.0.0.1/tcp/0/tls/ws"

// addTLSListener gives a node the tool starts a /tls/ws listener with a
// self-signed certificate written next to its identity key. The honest
// peers keep to the plain listener.
func addTLSListener(c *config.Config) error {
	dir := filepath.Dir(c.Identity.KeyFile)
	cert, key := filepath.Join(dir, "abuse-tls-cert.pem"), filepath.Join(dir, "abuse-tls-key.pem")
	if err := writeSelfSigned(cert, key); err != nil {
		return err
	}
	c.TLS.CertFile, c.TLS.KeyFile = cert, key
	c.Listen = append(c.Listen, tlsListen)
	return nil
}

// writeSelfSigned writes a one-day certificate for 127.0.0.1 and its key.
func writeSelfSigned(certFile, keyFile string) error {
	c, err := selfsigned.New("rendezvous-bench", time.Now().UnixNano(), 24*time.Hour)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, c.CertPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, c.KeyPEM, 0o600)
}

// isTLSWS reports whether a is a TLS WebSocket address (/tls/ws, /wss).
func isTLSWS(a ma.Multiaddr) bool {
	s := a.String()
	return strings.HasSuffix(s, "/tls/ws") || strings.HasSuffix(s, "/wss") || strings.Contains(s, "/tls/sni/")
}

// tlsHostPort is host:port of the node's TLS WebSocket listener: from the
// addresses the tool knows, else from what the node tells a peer in
// identify (a started process prints only its first address).
func (e *abuseEnv) tlsHostPort(ctx context.Context) (string, error) {
	addrs := e.tlsAddrs
	if len(addrs) == 0 && len(e.peers) > 0 {
		addrs = e.peers[0].h.Peerstore().Addrs(e.t.Info.ID)
	}
	for _, a := range addrs {
		if !isTLSWS(a) || !manet.IsIPLoopback(a) {
			continue
		}
		na, err := manet.ToNetAddr(a.Decapsulate(ma.StringCast("/tls")))
		if err == nil {
			return na.String(), nil
		}
	}
	return "", errors.New("bench: the node has no loopback /tls/ws listener (a node the tool starts gets one for tls-slowloris)")
}

// tlsSlowlorisKinds are the ways a TLS connection is left half-made.
var tlsSlowlorisKinds = []string{
	"tls, no ClientHello", "tls, half a ClientHello",
	"tls, upgrade headers never end", "tls, upgraded, no noise", "tls, http keep-alive, idle",
}

// halfClientHello is the start of a TLS record announcing a 512-byte
// ClientHello, of which only the first bytes follow.
var halfClientHello = []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8}

// openTLSStalled opens one connection to the TLS listener and stalls it as
// kind says: before or inside the TLS handshake, or after it as the plain
// slowloris kinds do.
func openTLSStalled(ctx context.Context, src, hostPort, kind string) (net.Conn, error) {
	c, err := dialFrom(ctx, src, hostPort)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "tls, no ClientHello":
		return c, nil
	case "tls, half a ClientHello":
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(halfClientHello); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // the tool's own self-signed certificate
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	if err := stallOn(tc, hostPort, tlsStallKind[kind]); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// tlsStallKind is the plain slowloris kind a TLS kind continues as once its
// handshake is done.
var tlsStallKind = map[string]string{
	"tls, upgrade headers never end": "tcp, no upgrade",
	"tls, upgraded, no noise":        "upgraded, no noise",
	"tls, http keep-alive, idle":     "http keep-alive, idle",
}

// tlsSlowloris stalls o.Conns connections of each TLS kind from
// o.AttackerIP, checks the node closed them within o.Hold, and then that a
// complete TLS request is still served.
func tlsSlowloris(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hp, err := e.tlsHostPort(ctx)
	if err != nil {
		res.count("connect", err)
		res.check("tls-slowloris: TLS listener found", 0, "", "= 1", 1, false, oneLine(err))
		return
	}
	holdStalled(ctx, e, res, ready, "tls-slowloris", tlsSlowlorisKinds, e.o.Conns, func(kind string) (net.Conn, error) {
		return openTLSStalled(ctx, e.o.AttackerIP, hp, kind)
	})
	ok, note := tlsHealthz(ctx, hp)
	res.check("tls-slowloris: GET /healthz over TLS after it", ok, "", "= 1", 1, false, note)
}

// tlsHealthz asks /healthz over the TLS listener, from the honest address.
func tlsHealthz(ctx context.Context, hostPort string) (float64, string) {
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the tool's own self-signed certificate
	}}
	defer cl.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostPort+"/healthz", nil)
	if err != nil {
		return 0, oneLine(err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, oneLine(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, resp.Status
	}
	return 1, resp.Proto
}
