package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/internal/selfsigned"
	"github.com/ws-star/rendezvous/internal/testhost"
)

// writeSelfSigned writes a certificate for localhost with the given serial
// number and returns its pool.
func writeSelfSigned(t *testing.T, certFile, keyFile string, serial int64) *x509.CertPool {
	t.Helper()
	c, err := selfsigned.New("localhost", serial, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Write through temporary files and renames, as certificate renewal
	// tools do.
	writeAtomic(t, certFile, c.CertPEM)
	writeAtomic(t, keyFile, c.KeyPEM)
	return c.Pool
}

func writeAtomic(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// servedSerial performs a TLS handshake with the node's port and returns the
// serial number of the certificate it presents.
func servedSerial(t *testing.T, addr ma.Multiaddr, pool *x509.CertPool) int64 {
	t.Helper()
	_, hostport, err := manet.DialArgs(addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", hostport, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestSecureWebSocketWithSNIRelaysAndReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeSelfSigned(t, certFile, keyFile, 1)

	c := testConfig(t)
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/tls/sni/localhost/ws"}
	c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
	n := startNode(t, c)

	listen := n.Host.Network().ListenAddresses()[0]
	if _, err := listen.ValueForProtocol(ma.P_SNI); err != nil {
		t.Fatalf("listen address %s lost its /sni component", listen)
	}
	clientOpts := []any{ws.WithTLSClientConfig(&tls.Config{RootCAs: pool})}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	a := testhost.NewWith(t, false, clientOpts)
	b := testhost.NewWith(t, false, clientOpts)
	serveEcho(a)
	reserve(t, ctx, a, n)
	dst, _ := ma.NewMultiaddr(listen.String() + "/p2p/" + n.Host.ID().String() + "/p2p-circuit/p2p/" + a.ID().String())
	info, _ := peer.AddrInfoFromP2pAddr(dst)
	if err := b.Connect(ctx, *info); err != nil {
		t.Fatalf("dial through relay over wss: %v", err)
	}
	echoThrough(t, ctx, b, a.ID(), 1<<20)

	if got := servedSerial(t, listen, pool); got != 1 {
		t.Fatalf("served certificate serial %d, want 1", got)
	}
	pool2 := writeSelfSigned(t, certFile, keyFile, 2)
	deadline := time.Now().Add(10 * time.Second)
	for servedSerial(t, listen, pool2) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("replaced certificate was not picked up")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// New clients trusting only the new certificate connect.
	c2 := testhost.NewWith(t, false, []any{ws.WithTLSClientConfig(&tls.Config{RootCAs: pool2})})
	if err := c2.Connect(ctx, nodeInfo(n)); err != nil {
		t.Fatalf("connect with renewed certificate: %v", err)
	}
}

func TestSecureListenerWithoutCertificateFailsStart(t *testing.T) {
	c := testConfig(t)
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws", "/ip4/127.0.0.1/tcp/0/tls/ws"}
	// Bypasses Validate on purpose: the node itself must notice the listener
	// go-libp2p dropped.
	_, err := New(t.Context(), c)
	if err == nil {
		t.Fatal("start succeeded with a /tls/ws listener and no certificate")
	}
	t.Logf("error: %v", err)
}
