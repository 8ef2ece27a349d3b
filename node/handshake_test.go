package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/config"
)

// nodeHostPort is the host:port of the node's WebSocket listener.
func nodeHostPort(t testing.TB, n *Node) string {
	t.Helper()
	return strings.TrimPrefix(httpBase(t, n), "http://")
}

// dialFrom opens a TCP connection to the node from the given loopback source
// address.
func dialFrom(t testing.TB, src, hostPort string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", hostPort)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", hostPort, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports how long the node took to close c (read returning an
// error), waiting at most limit.
func closedWithin(c net.Conn, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Since(start), false
	}
	return time.Since(start), true
}

func unfinishedUpgrade(hostPort string) string {
	return fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", hostPort)
}

func TestHandshakeTimeoutClosesStalledUpgradesAndIdleKeepAlives(t *testing.T) {
	c := testConfig(t)
	c.Resources.HandshakeTimeout = config.Duration(time.Second)
	n := startNode(t, c)
	hp := nodeHostPort(t, n)

	// Upgrade headers that never end.
	stalled := dialFrom(t, "127.0.0.1", hp)
	if _, err := io.WriteString(stalled, unfinishedUpgrade(hp)); err != nil {
		t.Fatal(err)
	}
	// One answered request, then nothing on a keep-alive connection.
	idle := dialFrom(t, "127.0.0.1", hp)
	if _, err := fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", hp); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatalf("healthz on a fresh connection: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// The node's own defaults before this setting were 10 s for headers and
	// 60 s for keep-alive; 5 s leaves room for a busy machine.
	for name, conn := range map[string]net.Conn{"unfinished upgrade": stalled, "idle keep-alive": idle} {
		if took, closed := closedWithin(conn, 5*time.Second); !closed {
			t.Errorf("%s still open after %v with handshake_timeout 1s", name, took.Round(time.Millisecond))
		}
	}
}

func TestPerIPCapRefusesSourcesOutsideTrustedSubnetsButNotTrustedOnes(t *testing.T) {
	c := testConfig(t)
	c.Resources.TrustedSubnets = []string{"127.0.0.1/32"}
	c.Resources.ConnsPerIP = 4
	n := startNode(t, c)
	hp := nodeHostPort(t, n)

	// 127.0.0.2 is loopback but not trusted here: its fifth connection is
	// refused while the first four are held open.
	for range 4 {
		held := dialFrom(t, "127.0.0.2", hp)
		if _, err := io.WriteString(held, unfinishedUpgrade(hp)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the node accept the four
	fifth := dialFrom(t, "127.0.0.2", hp)
	if took, closed := closedWithin(fifth, 3*time.Second); !closed {
		t.Fatalf("fifth connection from an untrusted address still open after %v (conns_per_ip 4)", took)
	}

	// The trusted source is not capped: more than four of its connections
	// are served at once.
	for i := range 6 {
		conn := dialFrom(t, "127.0.0.1", hp)
		if _, err := io.WriteString(conn, unfinishedUpgrade(hp)); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			if _, err := io.WriteString(conn, "\r\n"); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || !strings.Contains(line, " 101 ") {
				t.Fatalf("sixth connection from the trusted address: %q, %v; want a WebSocket upgrade", line, err)
			}
		}
	}
}

func TestLoopbackIsTrustedByDefault(t *testing.T) {
	c := testConfig(t)
	c.Resources.ConnsPerIP = 2
	n := startNode(t, c)
	hp := nodeHostPort(t, n)
	var last net.Conn
	for range 4 {
		last = dialFrom(t, "127.0.0.2", hp)
		if _, err := io.WriteString(last, unfinishedUpgrade(hp)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(last, "\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = last.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(last).ReadString('\n')
	if err != nil || !strings.Contains(line, " 101 ") {
		t.Fatalf("fourth loopback connection with conns_per_ip 2: %q, %v; want it exempt by default", line, err)
	}
}
