package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Raw TCP attacks: connections that never become libp2p connections, and
// abuse of the node's HTTP endpoints on the same port.

// nodeHostPort is host:port of the node's WebSocket (and HTTP) listener.
func (e *abuseEnv) nodeHostPort() (string, error) {
	if e.t.MetricsURL == "" {
		return "", errors.New("bench: the node's HTTP address is unknown")
	}
	u, err := url.Parse(e.t.MetricsURL)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

// wsUpgrade is a WebSocket upgrade request for the node's listener.
func wsUpgrade(hostPort string) string {
	var key [16]byte
	_, _ = rand.Read(key[:])
	return "GET / HTTP/1.1\r\nHost: " + hostPort + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// wsFrame is one masked binary WebSocket frame from a client.
func wsFrame(payload []byte) []byte {
	b := []byte{0x82}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// msMsg is one multistream-select message.
func msMsg(s string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(s)+1)), s+"\n"...)
}

// stalled is one connection left hanging by the attacker.
type stalled struct {
	kind   string
	c      net.Conn
	opened time.Time
	ended  atomic.Int64 // unix nanos when the node closed it; 0 while open
	err    atomic.Value // the read error that ended it
}

// dialFrom opens a TCP connection from the source address src.
func dialFrom(ctx context.Context, src, hostPort string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return d.DialContext(ctx, "tcp", hostPort)
}

// slowlorisKinds are the ways a connection is left half-made.
var slowlorisKinds = []string{"tcp, no upgrade", "upgraded, no noise", "noise half-sent", "http keep-alive, idle"}

// openStalled opens one connection of kind and stalls it.
func openStalled(ctx context.Context, src, hostPort, kind string) (net.Conn, error) {
	c, err := dialFrom(ctx, src, hostPort)
	if err != nil {
		return nil, err
	}
	if err := stallOn(c, hostPort, kind); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// stallOn takes c (a TCP connection, or a TLS connection over one) as far as
// kind says and leaves it there.
func stallOn(c net.Conn, hostPort, kind string) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	switch kind {
	case "http keep-alive, idle":
		// One answered request, then an idle keep-alive connection.
		if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", hostPort); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	case "tcp, no upgrade":
		// An upgrade request whose headers never end.
		req := wsUpgrade(hostPort)
		if _, err := io.WriteString(c, req[:len(req)-4]); err != nil {
			return err
		}
	default:
		if _, err := io.WriteString(c, wsUpgrade(hostPort)); err != nil {
			return err
		}
		br := bufio.NewReader(c)
		status, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.Contains(status, " 101 ") {
			return fmt.Errorf("upgrade answered %q", strings.TrimSpace(status))
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if l == "\r\n" {
				break
			}
		}
		if kind == "noise half-sent" {
			// multistream-select for Noise, then the first handshake
			// message's length prefix and a few of its 32 bytes.
			msg := append(msMsg("/multistream/1.0.0"), msMsg("/noise")...)
			msg = append(msg, 0, 32, 1, 2, 3, 4, 5)
			if _, err := c.Write(wsFrame(msg)); err != nil {
				return err
			}
		}
	}
	_ = c.SetDeadline(time.Time{})
	return nil
}

// slowloris opens o.Conns connections of each kind, holds them, and checks
// that the node closed every one within o.Hold.
func slowloris(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hp, err := e.nodeHostPort()
	if err != nil {
		res.count("connect", err)
		return
	}
	holdStalled(ctx, e, res, ready, "slowloris", slowlorisKinds, e.o.Conns, func(kind string) (net.Conn, error) {
		return openStalled(ctx, e.o.AttackerIP, hp, kind)
	})
}

// holdStalled opens n connections of each kind with open, 64 at a time,
// closes ready once all are open, holds them for o.Hold, and checks per
// kind that the node closed every one by then; the checks are named
// "<attack>: <kind>, still open after <hold>".
func holdStalled(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, attack string, kinds []string, n int, open func(kind string) (net.Conn, error)) {
	var mu sync.Mutex
	var conns []*stalled
	var wg sync.WaitGroup
	work := make(chan string)
	for range 64 {
		wg.Go(func() {
			for kind := range work {
				c, err := open(kind)
				if err != nil {
					res.count(kind+": open", err)
					continue
				}
				st := &stalled{kind: kind, c: c, opened: time.Now()}
				mu.Lock()
				conns = append(conns, st)
				mu.Unlock()
				go func() {
					_, err := io.Copy(io.Discard, c)
					if err == nil {
						err = io.EOF
					}
					st.err.Store(err)
					st.ended.Store(time.Now().UnixNano())
				}()
			}
		})
	}
	for i := range n * len(kinds) {
		if ctx.Err() != nil {
			break
		}
		work <- kinds[i%len(kinds)]
	}
	close(work)
	wg.Wait()
	opened := time.Now()
	closeOnce(ready)
	_ = sleep(ctx, time.Until(opened.Add(e.o.Hold)))
	for _, kind := range kinds {
		var open, n int
		var freed Latencies
		for _, st := range conns {
			if st.kind != kind {
				continue
			}
			n++
			if at := st.ended.Load(); at != 0 {
				freed.Add(time.Unix(0, at).Sub(st.opened))
				err, _ := st.err.Load().(error)
				res.count(kind, err)
			} else {
				open++
				res.countAs(kind, "still open", nil)
			}
		}
		note := fmt.Sprintf("of %d opened", n)
		if freed.Len() > 0 {
			note += fmt.Sprintf("; freed after p50 %.1f s, max %.1f s", freed.Quantile(0.5).Seconds(), freed.Quantile(1).Seconds())
		}
		res.check(fmt.Sprintf("%s: %s, still open after %s", attack, kind, e.o.Hold), float64(open), "conns", "= 0", 0, true, note)
	}
	for _, st := range conns {
		st.c.Close()
	}
}

func closeOnce(ch chan<- struct{}) {
	defer func() { _ = recover() }()
	close(ch)
}

// httpCase is one abusive HTTP exchange on a raw connection.
type httpCase struct {
	name string
	n    int // connections, all at once
	// send writes the request (and may trickle it, stopping at stop).
	send func(c net.Conn, hostPort string, stop <-chan struct{}) error
}

var httpCases = []httpCase{
	{"unknown path", 100, func(c net.Conn, hp string, _ <-chan struct{}) error {
		_, err := fmt.Fprintf(c, "GET /no/such/path/%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", time.Now().UnixNano(), hp)
		return err
	}},
	{"64 KiB of headers", 20, func(c net.Conn, hp string, _ <-chan struct{}) error {
		_, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\nConnection: close\r\n\r\n", hp, strings.Repeat("a", 64<<10))
		return err
	}},
	{"metrics, many at once", 32, func(c net.Conn, hp string, _ <-chan struct{}) error {
		_, err := fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", hp)
		return err
	}},
	{"slow headers", 50, func(c net.Conn, hp string, stop <-chan struct{}) error {
		if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", hp); err != nil {
			return err
		}
		return trickle(c, "X-Slow: 1\r\n", stop)
	}},
	{"slow body", 50, func(c net.Conn, hp string, stop <-chan struct{}) error {
		if _, err := fmt.Fprintf(c, "POST /healthz HTTP/1.1\r\nHost: %s\r\nContent-Length: 10000000\r\n\r\n", hp); err != nil {
			return err
		}
		return trickle(c, "x", stop)
	}},
}

// trickle writes s once a second until the write fails or stop.
func trickle(c net.Conn, s string, stop <-chan struct{}) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, s); err != nil {
			return err
		}
	}
}

// httpAnswerWait is how long an HTTP attempt may wait for a status or a
// close: past the node's 10 s header timeout.
const httpAnswerWait = 15 * time.Second

// httpAbuse runs every httpCase at once against the node's port and records
// each connection's status code, or close, or timeout.
func httpAbuse(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hp, err := e.nodeHostPort()
	if err != nil {
		res.count("connect", err)
		return
	}
	var wg sync.WaitGroup
	closeOnce(ready)
	for _, hc := range httpCases {
		for range hc.n {
			wg.Go(func() {
				c, err := dialFrom(ctx, e.o.AttackerIP, hp)
				if err != nil {
					res.count(hc.name, err)
					return
				}
				defer c.Close()
				// The trickle stops at the answer; the wait is bounded.
				answered := make(chan struct{})
				go func() {
					_ = hc.send(c, hp, answered)
				}()
				_ = c.SetReadDeadline(time.Now().Add(httpAnswerWait))
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				close(answered)
				if err != nil {
					res.count(hc.name, err)
					return
				}
				f := strings.Fields(line)
				if len(f) < 2 {
					res.countAs(hc.name, "malformed answer", nil)
					return
				}
				res.countAs(hc.name, "status "+f[1], nil)
			})
		}
	}
	wg.Wait()
}
