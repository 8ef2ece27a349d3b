// Package pings answers /ipfs/ping/1.0.0 streams ahead of the host's
// multistream muxer, for the many browsers whose js-libp2p opens one on
// every connection every 10 s.
package pings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/browserping"
	"github.com/ws-star/rendezvous/internal/promreg"
)

// Every browser's js-libp2p opens a new ping stream on its connection every
// 10 s: at tens of thousands of browsers these streams are most of what the
// node does. The host answers one with two writes for multistream-select,
// a goroutine, four deadline timers and a reset timer per ping
// (go-libp2p's ping service); the node answers it itself, before the host's
// multistream muxer, with one write for the multistream answer (and the
// echo when the ping came with it, as go-libp2p's lazy client sends it), one
// deadline and no goroutine. Any other stream goes to the host unchanged.
const (
	// pingFirstWait bounds the wait for a new stream's first bytes, as the
	// host's negotiation timeout does (the host sets its own after a stream
	// turns out not to be a ping).
	pingFirstWait = 10 * time.Second
	// pingStreamLife is how long a ping stream may last once it has pinged
	// twice, as go-libp2p's ping service allows (its client pings every
	// second on one stream).
	pingStreamLife = 30 * time.Second
	// MaxPerStream bounds the echoes on one stream: all of them fit in the
	// stream's initial yamux window, so a peer that does not read them
	// cannot block the node's write.
	MaxPerStream = 64
)

// streamHandlerSwapper is the swarm: it hands new streams to one handler,
// the host's.
type streamHandlerSwapper interface {
	StreamHandler() network.StreamHandler
	SetStreamHandler(network.StreamHandler)
}

// AnswerFirst puts the node's ping answering in front of the host's handler
// of new streams; reg, when not nil, gets rendezvous_ping_streams_total.
func AnswerFirst(h host.Host, reg prometheus.Registerer) error {
	sw, ok := h.Network().(streamHandlerSwapper)
	if !ok {
		return fmt.Errorf("pings: the host's network (%T) does not expose its stream handler", h.Network())
	}
	next := sw.StreamHandler()
	if next == nil {
		return errors.New("pings: the host has no stream handler")
	}
	answered := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rendezvous_ping_streams_total",
		Help: "Ping streams the node answered before the host's multistream muxer.",
	})
	if err := promreg.RegisterAll(reg, answered); err != nil {
		return err
	}
	sw.SetStreamHandler(func(s network.Stream) { servePingOr(s, next, answered) })
	return nil
}

// pingBuf is the most read from a ping stream at once: the multistream
// request and the pings sent with it (a go-libp2p client sends one), then up
// to four pings.
const pingBuf = 128

// servePingOr answers s when its first read is js-libp2p's or go-libp2p's
// ping request, and hands it to next otherwise, with what was read put back
// in front of the stream. answered counts the ping streams. Reading first is
// safe because a multistream-select dialer (go, js and rust libp2p alike)
// sends its header without waiting for the listener's.
func servePingOr(s network.Stream, next network.StreamHandler, answered prometheus.Counter) {
	if err := s.SetReadDeadline(time.Now().Add(pingFirstWait)); err != nil {
		s.Reset()
		return
	}
	var in [pingBuf]byte
	n, err := s.Read(in[:])
	if n < len(browserping.Request) || !bytes.Equal(in[:len(browserping.Request)], browserping.Request) {
		if n == 0 && err != nil {
			s.Reset()
			return
		}
		// Not a ping, or one split over frames: the host negotiates it.
		next(&replayStream{Stream: s, pre: bytes.Clone(in[:n]), err: err})
		return
	}
	answered.Inc()
	// The same accounting as the host and the ping service give a ping
	// stream: the stream leaves the transient scope for the protocol's and
	// the service's, whose per-peer limits cap ping streams.
	if err := s.SetProtocol(ping.ID); err != nil {
		s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	if err := s.Scope().SetService(ping.ServiceName); err != nil {
		s.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	echoPings(s, in[:], n-len(browserping.Request), err)
}

// echoPings answers the multistream request and echoes every 32 bytes read
// until the peer closes its side. in[len(Request):][:pending] holds what came
// with the request; readErr is the error of that read.
func echoPings(s network.Stream, in []byte, pending int, readErr error) {
	copy(in, in[len(browserping.Request):][:pending])
	var out [pingBuf + pingBuf]byte // the request's answer and up to four echoes
	w := copy(out[:], browserping.Request)
	started := time.Now()
	for pings := 0; ; {
		for pending >= ping.PingSize && pings < MaxPerStream {
			w += copy(out[w:], in[:ping.PingSize])
			pending = copy(in, in[ping.PingSize:pending])
			pings++
			if pings == 2 {
				// A go-libp2p client pinging every second; a browser
				// never gets here.
				if err := s.SetReadDeadline(started.Add(pingStreamLife)); err != nil {
					s.Reset()
					return
				}
			}
		}
		if w > 0 {
			if _, err := s.Write(out[:w]); err != nil {
				s.Reset()
				return
			}
			w = 0
		}
		switch {
		case pings >= MaxPerStream:
			_ = s.Close()
			return
		case errors.Is(readErr, io.EOF) && pending == 0:
			// The peer's FIN after its last ping: ours in return.
			_ = s.Close()
			return
		case readErr != nil:
			s.Reset()
			return
		}
		var n int
		n, readErr = s.Read(in[pending:])
		pending += n
	}
}

// replayStream is a stream whose first bytes were already read: Read
// returns them first, then the error that read ended with, if any, then
// what follows.
type replayStream struct {
	network.Stream
	pre []byte
	err error
}

func (r *replayStream) Read(b []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(b, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	if r.err != nil {
		err := r.err
		r.err = nil
		return 0, err
	}
	return r.Stream.Read(b)
}
