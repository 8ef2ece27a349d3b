package legacy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Client is a minimal socket.io 2 client of the old clients' wire format,
// for tests and the bench: events with JSON and binary arguments, acks in
// both directions, engine.io pings. It is not a ws-star transport.
type Client struct {
	conn *websocket.Conn
	wmu  sync.Mutex

	mu     sync.Mutex
	nextID int64
	acks   map[int64]chan []json.RawMessage
	err    error

	// Events receives the server's events in order; the client stops
	// reading while it is full. Unused (nil) with ClientOptions.OnEvent.
	Events  chan Event
	onEvent func(Event)
	// Errors receives the server's socket.io error packets.
	Errors chan string
	done   chan struct{}
}

// Event is one event from the server. Args are its JSON arguments after the
// name, a binary one as null with its data in Bin at the same index.
type Event struct {
	Name string
	Args []json.RawMessage
	Bin  map[int][]byte
	// ID is the ack id the server waits on, -1 for none.
	ID int64
}

// Str returns argument i as a string ("" if it is not one).
func (e Event) Str(i int) string {
	var s string
	if i < len(e.Args) {
		_ = json.Unmarshal(e.Args[i], &s)
	}
	return s
}

// DialClient opens a socket to base ("ws://host:port" or "wss://..."), as
// socket.io-client 2 does with the websocket transport.
func DialClient(ctx context.Context, base string, tlsConf *tls.Config, hdr http.Header) (*Client, error) {
	return dialClient(ctx, base, websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: tlsConf}, hdr)
}

// DialClientVia is DialClient over connections from dial (for example
// one that writes a PROXY protocol header first).
func DialClientVia(ctx context.Context, base string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*Client, error) {
	return dialClient(ctx, base, websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: dial}, nil)
}

// ClientOptions are DialClientWith's.
type ClientOptions struct {
	// Dial opens the TCP connection (nil: the default dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnEvent, when set, is called with each event of the server in the
	// client's read loop, in order, instead of queuing it on Events: many
	// clients in one process (the bench) then hold no event buffers. It
	// must not block.
	OnEvent func(Event)
}

// DialClientWith is DialClient over plain WebSocket with o.
func DialClientWith(ctx context.Context, base string, o ClientOptions) (*Client, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: o.Dial}
	return dialClientOpts(ctx, base, d, nil, o.OnEvent)
}

func dialClient(ctx context.Context, base string, d websocket.Dialer, hdr http.Header) (*Client, error) {
	return dialClientOpts(ctx, base, d, hdr, nil)
}

func dialClientOpts(ctx context.Context, base string, d websocket.Dialer, hdr http.Header, onEvent func(Event)) (*Client, error) {
	u := strings.TrimSuffix(base, "/") + Path + "?EIO=3&transport=websocket"
	conn, resp, err := d.DialContext(ctx, u, hdr)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("legacy client: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("legacy client: %w", err)
	}
	conn.SetReadLimit(MaxFrameBytes * 2)
	c := &Client{
		conn:    conn,
		acks:    make(map[int64]chan []json.RawMessage),
		Errors:  make(chan string, 64),
		done:    make(chan struct{}),
		onEvent: onEvent,
	}
	if onEvent == nil {
		c.Events = make(chan Event, 1024)
	}
	// engine.io open, then socket.io connect.
	for range 2 {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("legacy client: handshake: %w", err)
		}
		if len(msg) == 0 || (msg[0] != eioOpen && string(msg) != "40") {
			conn.Close()
			return nil, fmt.Errorf("legacy client: unexpected handshake message %q", msg)
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// Close closes the socket.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// Done is closed when the socket ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// WriteText sends a raw engine.io text message.
func (c *Client) WriteText(s string) error { return c.write(websocket.TextMessage, []byte(s)) }

// WriteBinary sends a raw binary message.
func (c *Client) WriteBinary(b []byte) error { return c.write(websocket.BinaryMessage, b) }

// Ping sends an engine.io ping.
func (c *Client) Ping() error { return c.WriteText(string(eioPing)) }

func (c *Client) write(mt int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(mt, b)
}

func toArgs(vals []any) []arg {
	out := make([]arg, 0, len(vals))
	for _, v := range vals {
		switch x := v.(type) {
		case []byte:
			out = append(out, arg{isBin: true, bin: x})
		case json.RawMessage:
			out = append(out, arg{raw: x})
		default:
			out = append(out, jsonArg(x))
		}
	}
	return out
}

func (c *Client) send(p packet) error {
	text, bins := p.frames()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.conn.WriteMessage(websocket.TextMessage, text); err != nil {
		return err
	}
	for _, b := range bins {
		if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
			return err
		}
	}
	return nil
}

// Emit sends an event; []byte arguments travel as binary attachments.
func (c *Client) Emit(name string, args ...any) error {
	return c.send(event(-1, name, toArgs(args)...))
}

// Call sends an event that wants an ack and returns the ack's arguments.
func (c *Client) Call(ctx context.Context, name string, args ...any) ([]json.RawMessage, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	id := c.nextID
	c.nextID++
	ch := make(chan []json.RawMessage, 1)
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.send(event(id, name, toArgs(args)...)); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a, nil
	case <-c.done:
		return nil, errors.New("legacy client: socket closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Ack answers the server's event id.
func (c *Client) Ack(id int64, args ...any) error {
	return c.send(ack(id, toArgs(args)...))
}

func (c *Client) readLoop() {
	defer close(c.done)
	defer func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = errors.New("legacy client: socket closed")
		}
		c.mu.Unlock()
	}()
	var pending *packet
	for {
		mt, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if mt == websocket.BinaryMessage {
			if pending != nil && len(msg) > 0 && pending.attach(msg[1:]) {
				p := *pending
				pending = nil
				c.dispatch(&p)
			}
			continue
		}
		if len(msg) < 2 || msg[0] != eioMessage {
			continue
		}
		p, err := decodePacket(msg[1:])
		if err != nil {
			continue
		}
		if p.attachments > 0 {
			pending = &p
			continue
		}
		c.dispatch(&p)
	}
}

func (c *Client) dispatch(p *packet) {
	raws := func(args []arg) ([]json.RawMessage, map[int][]byte) {
		out := make([]json.RawMessage, len(args))
		var bin map[int][]byte
		for i, a := range args {
			if a.isBin {
				if bin == nil {
					bin = make(map[int][]byte)
				}
				bin[i] = a.bin
				out[i] = json.RawMessage("null")
				continue
			}
			out[i] = a.raw
		}
		return out, bin
	}
	switch p.typ {
	case sioAck, sioBinaryAck:
		c.mu.Lock()
		ch := c.acks[p.id]
		delete(c.acks, p.id)
		c.mu.Unlock()
		if ch != nil {
			a, _ := raws(p.args)
			ch <- a
		}
	case sioEvent, sioBinaryEvent:
		name, _ := p.name()
		a, bin := raws(p.args[1:])
		e := Event{Name: name, Args: a, Bin: bin, ID: p.id}
		if c.onEvent != nil {
			c.onEvent(e)
			return
		}
		c.Events <- e
	case sioError:
		var msg string
		if len(p.args) > 0 {
			msg, _ = p.args[0].str()
		}
		select {
		case c.Errors <- msg:
		default:
		}
	}
}
