package node

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/ws-star/rendezvous/config"
)

// TestH2CClientGrantingNoWindowIsCappedAndClosed: on the plain WebSocket
// port go-libp2p's listener speaks HTTP/2 cleartext. A client that grants
// no flow-control window keeps every answer unwritten; the node must cap
// the streams of its connection and, once their writes time out, close it
// as an idle one.
func TestH2CClientGrantingNoWindowIsCappedAndClosed(t *testing.T) {
	c := testConfig(t)
	c.Resources.HandshakeTimeout = config.Duration(time.Second)
	n := startNode(t, c)
	hp := nodeHostPort(t, n)
	conn := dialFrom(t, "127.0.0.1", hp)

	fr := http2.NewFramer(conn, conn)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	const tried = 100
	for i := range tried {
		hb.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
			{Name: ":authority", Value: hp}, {Name: ":path", Value: "/healthz"}} {
			_ = enc.WriteField(f)
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}

	// Bounded wait: the write timeout, then the idle timeout, with room
	// for a busy machine. Before the fix the connection stayed open.
	limit := httpWriteTimeout + 20*time.Second
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	var advertised uint32
	answered := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open %v after %d streams with no window (%d answered)", limit, tried, answered)
			}
			break
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok {
				advertised = v
			}
		case *http2.HeadersFrame:
			answered++
		}
	}
	if advertised == 0 || advertised > httpMaxStreams {
		t.Errorf("node advertised SETTINGS_MAX_CONCURRENT_STREAMS %d, want at most %d", advertised, httpMaxStreams)
	}
	if answered > httpMaxStreams {
		t.Errorf("%d streams answered on one connection, want at most %d", answered, httpMaxStreams)
	}
}
