package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
)

// haproxyPath finds Debian's haproxy (.ci/run installs it).
func haproxyPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HAPROXY_PATH"), "/usr/sbin/haproxy"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	t.Fatal("haproxy is missing: install Debian's haproxy package (apt-get install -y haproxy) or set HAPROXY_PATH")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startHAProxy runs HAProxy in the foreground with two TCP front ends to the
// node, one sending PROXY v1 and one v2, and returns their host:ports.
func startHAProxy(t *testing.T, nodeHostPort string) (v1, v2 string) {
	t.Helper()
	bin := haproxyPath(t)
	p1, p2 := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend v1
    bind 127.0.0.1:%d
    default_backend node_v1
frontend v2
    bind 127.0.0.1:%d
    default_backend node_v2
backend node_v1
    server node %s send-proxy
backend node_v2
    server node %s send-proxy-v2
`, p1, p2, nodeHostPort, nodeHostPort)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	v1, v2 = fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)
	for _, hp := range []string{v1, v2} {
		testhost.Eventually(t, "haproxy listening on "+hp, func() bool {
			c, err := net.DialTimeout("tcp", hp, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return v1, v2
}

// healthzFrom asks for /healthz from the source address src and returns the
// status line, or the error.
func healthzFrom(t *testing.T, src, hostPort string) (string, error) {
	t.Helper()
	c := dialFrom(t, src, hostPort)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Status, nil
}

func TestPerIPCapsSeeTheClientAddressBehindHAProxyWithPROXYv1AndV2(t *testing.T) {
	c := testConfig(t)
	c.ProxyProtocol.From = []string{"127.0.0.1/32"}
	c.Resources.TrustedSubnets = []string{} // nobody exempt: the proxy's own address would be capped too
	c.Resources.ConnsPerIP = 2
	n := startNode(t, c)
	v1, v2 := startHAProxy(t, nodeHostPort(t, n))

	for i, front := range map[string]string{"v1": v1, "v2": v2} {
		t.Run(i, func(t *testing.T) {
			client := map[string]string{"v1": "127.0.0.3", "v2": "127.0.0.5"}[i]
			other := map[string]string{"v1": "127.0.0.4", "v2": "127.0.0.6"}[i]
			// Two stalled connections of one client use its per-IP quota...
			for range 2 {
				held := dialFrom(t, client, front)
				if _, err := io.WriteString(held, unfinishedUpgrade("x")); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(300 * time.Millisecond)
			// ...so its third is refused, which proves the node counts the
			// client and not HAProxy...
			if status, err := healthzFrom(t, client, front); err == nil {
				t.Fatalf("third connection of %s through HAProxy answered %q; conns_per_ip is 2", client, status)
			}
			// ...and another client behind the same proxy is served.
			status, err := healthzFrom(t, other, front)
			if err != nil || !strings.HasPrefix(status, "200") {
				t.Fatalf("another client through HAProxy: %q, %v; want 200", status, err)
			}
		})
	}
}

func TestLibp2pPeerThroughHAProxyIsSeenFromItsOwnAddress(t *testing.T) {
	c := testConfig(t)
	c.ProxyProtocol.From = []string{"127.0.0.1/32"}
	n := startNode(t, c)
	_, v2 := startHAProxy(t, nodeHostPort(t, n))

	h := testhost.NewClient(t)
	viaProxy := ma.StringCast("/ip4/127.0.0.1/tcp/" + strings.Split(v2, ":")[1] + "/ws")
	if err := h.Connect(t.Context(), peer.AddrInfo{ID: n.Host.ID(), Addrs: []ma.Multiaddr{viaProxy}}); err != nil {
		t.Fatalf("connect through HAProxy: %v", err)
	}
	conns := h.Network().ConnsToPeer(n.Host.ID())
	if len(conns) != 1 {
		t.Fatalf("%d connections to the node", len(conns))
	}
	_, clientSide, err := manet.DialArgs(conns[0].LocalMultiaddr())
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	testhost.Eventually(t, "the node to list the peer", func() bool {
		cs := n.Host.Network().ConnsToPeer(h.ID())
		if len(cs) == 0 {
			return false
		}
		_, seen, err = manet.DialArgs(cs[0].RemoteMultiaddr())
		return err == nil
	})
	// HAProxy connects to the node from a port of its own; the header
	// carries the client's.
	if seen != clientSide {
		t.Fatalf("node sees the peer at %s; the peer's own end is %s", seen, clientSide)
	}
}

func TestConnectionsFromAProxyWithoutHeaderAreClosedAndOthersServedAsTheyAre(t *testing.T) {
	c := testConfig(t)
	c.ProxyProtocol.From = []string{"127.0.0.1/32"}
	c.Resources.HandshakeTimeout = config.Duration(time.Second)
	n := startNode(t, c)
	hp := nodeHostPort(t, n)

	// From the proxy's address a request without a header is refused.
	if status, err := healthzFrom(t, "127.0.0.1", hp); err == nil {
		t.Fatalf("header-less request from the proxy answered %q", status)
	}
	// Anyone else is served directly...
	if status, err := healthzFrom(t, "127.0.0.2", hp); err != nil || !strings.HasPrefix(status, "200") {
		t.Fatalf("direct request: %q, %v", status, err)
	}
	// ...and a header from them is not honoured: it is not HTTP.
	conn := dialFrom(t, "127.0.0.2", hp)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "PROXY TCP4 203.0.113.7 127.0.0.1 1234 80\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if strings.Contains(line, " 200 ") {
		t.Fatalf("a PROXY header from a non-proxy was honoured: %q", line)
	}
}
