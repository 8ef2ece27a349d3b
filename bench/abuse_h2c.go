package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 cleartext (h2c, with prior knowledge) on the node's plain
// WebSocket port, which go-libp2p's listener accepts next to HTTP/1.1:
// connections that never acknowledge the node's SETTINGS, that send a
// header block a byte at a time, that idle after one request, and that
// hold as many streams open as the node lets them by never granting flow
// control window for the answers.

// h2cKinds are the ways an h2c connection is abused.
var h2cKinds = []string{
	"h2c, SETTINGS never acknowledged", "h2c, headers a byte a second",
	"h2c, idle after one request", "h2c, streams held (window 0)",
}

// h2cStreamsTried is how many streams a "streams held" connection opens,
// past go-libp2p's and Go's default limit of 250 concurrent streams.
const h2cStreamsTried = 1000

// h2cConn is one attacking HTTP/2 connection: frames are written under mu
// (from the attack and from the reader answering SETTINGS), read by one
// reader that counts what the node sent.
type h2cConn struct {
	c    net.Conn
	fr   *http2.Framer
	mu   sync.Mutex
	hbuf bytes.Buffer
	henc *hpack.Encoder

	ackSettings bool
	maxStreams  atomic.Int64 // the node's SETTINGS_MAX_CONCURRENT_STREAMS, -1 unset
	answered    atomic.Int64 // response HEADERS received
	refused     atomic.Int64 // RST_STREAM received
	goaway      atomic.Bool
	settings    chan struct{} // closed at the node's first SETTINGS
	settingsSet atomic.Bool
}

func newH2CConn(c net.Conn, ack bool) *h2cConn {
	h := &h2cConn{c: c, fr: http2.NewFramer(c, c), ackSettings: ack, settings: make(chan struct{})}
	h.fr.MaxHeaderListSize = 64 << 10
	h.henc = hpack.NewEncoder(&h.hbuf)
	h.maxStreams.Store(-1)
	return h
}

// read counts the node's frames until the connection ends, and returns the
// error that ended it.
func (h *h2cConn) read() error {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				continue
			}
			return err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok {
				h.maxStreams.Store(int64(v))
			}
			if h.settingsSet.CompareAndSwap(false, true) {
				close(h.settings)
			}
			if h.ackSettings {
				h.mu.Lock()
				_ = h.fr.WriteSettingsAck()
				h.mu.Unlock()
			}
		case *http2.HeadersFrame:
			h.answered.Add(1)
		case *http2.RSTStreamFrame:
			h.refused.Add(1)
		case *http2.GoAwayFrame:
			h.goaway.Store(true)
		case *http2.PingFrame:
			if !f.IsAck() {
				h.mu.Lock()
				_ = h.fr.WritePing(true, f.Data)
				h.mu.Unlock()
			}
		}
	}
}

// headers is an encoded request header block for GET path, with n bytes of
// padding in one more header (for a block to trickle).
func (h *h2cConn) headers(authority, path string, pad int) []byte {
	h.hbuf.Reset()
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: authority}, {Name: ":path", Value: path},
	} {
		_ = h.henc.WriteField(f)
	}
	if pad > 0 {
		_ = h.henc.WriteField(hpack.HeaderField{Name: "x-slow", Value: strings.Repeat("a", pad), Sensitive: true})
	}
	return bytes.Clone(h.hbuf.Bytes())
}

func (h *h2cConn) write(f func() error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_ = h.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return f()
}

// h2cStalled is the attack's record of one connection.
type h2cStalled struct {
	h *h2cConn
	// ended is the unix nanos when the node closed the connection, 0 while open.
	ended atomic.Int64
	err   atomic.Value
}

// openH2C opens one h2c connection of kind and leaves it as kind says; the
// trickling kind goes on writing until stop.
func openH2C(ctx context.Context, src, hostPort, kind string, stop <-chan struct{}) (*h2cConn, func() error, error) {
	c, err := dialFrom(ctx, src, hostPort)
	if err != nil {
		return nil, nil, err
	}
	h := newH2CConn(c, kind != "h2c, SETTINGS never acknowledged")
	fail := func(err error) (*h2cConn, func() error, error) { c.Close(); return nil, nil, err }
	var settings []http2.Setting
	if kind == "h2c, streams held (window 0)" {
		// No room for any answer: each handler blocks writing its body.
		settings = append(settings, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	}
	if err := h.write(func() error {
		if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
			return err
		}
		return h.fr.WriteSettings(settings...)
	}); err != nil {
		return fail(err)
	}
	readErr := make(chan error, 1)
	go func() { readErr <- h.read() }()
	wait := func() error { return <-readErr }
	select {
	case <-h.settings:
	case err := <-readErr:
		c.Close()
		return nil, nil, fmt.Errorf("before SETTINGS: %w", err)
	case <-time.After(10 * time.Second):
		return fail(errors.New("no SETTINGS from the node within 10 s"))
	}
	switch kind {
	case "h2c, headers a byte a second":
		block := h.headers(hostPort, "/healthz", 64)
		if err := h.write(func() error {
			return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:8], EndStream: true})
		}); err != nil {
			return fail(err)
		}
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for i := 8; i < len(block)-1; i++ {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				if h.write(func() error { return h.fr.WriteContinuation(1, false, block[i:i+1]) }) != nil {
					return
				}
			}
		}()
	case "h2c, idle after one request":
		block := h.headers(hostPort, "/healthz", 0)
		if err := h.write(func() error {
			return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
		}); err != nil {
			return fail(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for h.answered.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if h.answered.Load() == 0 {
			return fail(errors.New("no answer to GET /healthz within 10 s"))
		}
	case "h2c, streams held (window 0)":
		for i := range h2cStreamsTried {
			block := h.headers(hostPort, "/healthz", 0)
			if err := h.write(func() error {
				return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block, EndStream: true, EndHeaders: true})
			}); err != nil {
				if i == 0 {
					return fail(err)
				}
				break
			}
		}
	}
	return h, wait, nil
}

// h2cAbuse opens min(o.Conns, 16) connections of each kind from
// o.AttackerIP, holds them o.Hold, and checks that the node closed each one
// by then, and that a connection holding streams got no more than the node
// advertised.
func h2cAbuse(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hp, err := e.nodeHostPort()
	if err != nil {
		res.count("connect", err)
		return
	}
	n := min(e.o.Conns, 16)
	type rec struct {
		kind   string
		st     *h2cStalled
		opened time.Time
	}
	var mu sync.Mutex
	var conns []rec
	var wg sync.WaitGroup
	for _, kind := range h2cKinds {
		for range n {
			wg.Go(func() {
				h, wait, err := openH2C(ctx, e.o.AttackerIP, hp, kind, stop)
				if err != nil {
					res.count(kind+": open", err)
					return
				}
				st := &h2cStalled{h: h}
				mu.Lock()
				conns = append(conns, rec{kind, st, time.Now()})
				mu.Unlock()
				go func() {
					err := wait()
					if err == nil {
						err = io.EOF
					}
					st.err.Store(err)
					st.ended.Store(time.Now().UnixNano())
				}()
			})
		}
	}
	wg.Wait()
	opened := time.Now()
	closeOnce(ready)
	_ = sleep(ctx, time.Until(opened.Add(e.o.Hold)))
	for _, kind := range h2cKinds {
		var open, total int
		var freed Latencies
		var maxAnswered, advertised int64 = 0, -1
		for _, r := range conns {
			if r.kind != kind {
				continue
			}
			total++
			maxAnswered = max(maxAnswered, r.st.h.answered.Load())
			advertised = max(advertised, r.st.h.maxStreams.Load())
			if at := r.st.ended.Load(); at != 0 {
				freed.Add(time.Unix(0, at).Sub(r.opened))
				err, _ := r.st.err.Load().(error)
				k := outcomeOf(err)
				if r.st.h.goaway.Load() {
					k = "GOAWAY, " + k
				}
				res.countAs(kind, k, err)
			} else {
				open++
				res.countAs(kind, "still open", nil)
			}
		}
		note := fmt.Sprintf("of %d opened", total)
		if freed.Len() > 0 {
			note += fmt.Sprintf("; freed after p50 %.1f s, max %.1f s", freed.Quantile(0.5).Seconds(), freed.Quantile(1).Seconds())
		}
		res.check(fmt.Sprintf("h2c: %s, still open after %s", kind, e.o.Hold), float64(open), "conns", "= 0", 0, true, note)
		if kind == "h2c, streams held (window 0)" && total > 0 {
			adv := "unset (unlimited)"
			limit := float64(h2cStreamsTried)
			if advertised >= 0 {
				adv = fmt.Sprint(advertised)
				limit = float64(advertised)
			}
			res.check("h2c: streams answered on one connection, max", float64(maxAnswered), "streams",
				fmt.Sprintf("<= %.0f (the node's SETTINGS_MAX_CONCURRENT_STREAMS)", limit), limit, true,
				fmt.Sprintf("%d streams opened per connection; the node advertised SETTINGS_MAX_CONCURRENT_STREAMS %s", h2cStreamsTried, adv))
		}
	}
	for _, r := range conns {
		r.st.h.c.Close()
	}
}
