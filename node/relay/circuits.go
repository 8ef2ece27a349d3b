package relay

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	pbv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	gproto "google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/internal/limits"
)

// HopMessageMax is the relay's own limit on a hop message.
const HopMessageMax = 4096

// circuitGate holds the relayed circuits to circuit.max_active_circuits, with
// a RESOURCE_LIMIT_EXCEEDED answer past it. go-libp2p's relay has no
// node-wide circuit count: it has only the resource manager's scope of the
// relay service, which the reservation requests share with the circuits
// (two streams each). A flood of circuits from many peer IDs filled that
// scope, about 2 × max_active_circuits + 1024 streams, and from then on every
// hop stream was reset when opened: reservations too, so no new peer could
// become reachable. Held to max_active_circuits, circuits leave the 1,024
// streams to reservations.
type circuitGate struct {
	max int
	obs limits.Observer

	mu sync.Mutex
	// open counts the circuits the relay counts (from its ConnectionOpened
	// to its ConnectionClosed), pending the CONNECTs admitted that have no
	// circuit yet. The relay opens a circuit inside the handler of its
	// CONNECT, so opening moves one admitted CONNECT from pending to open;
	// handed counts those until their handlers return. Counting such a
	// CONNECT in both refused the next CONNECT while its circuit was being
	// set up, below the cap.
	open, pending, handed int
	// tracer sees the gate's refusals as the relay's own.
	tracer circuit.MetricsTracer
}

func newCircuitGate(max int, obs limits.Observer) *circuitGate {
	return &circuitGate{max: max, obs: obs}
}

func (g *circuitGate) admit() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open+g.pending >= g.max {
		return false
	}
	g.pending++
	return true
}

func (g *circuitGate) admitted() {
	g.mu.Lock()
	if g.handed > 0 {
		g.handed--
	} else {
		g.pending--
	}
	g.mu.Unlock()
}

func (g *circuitGate) opened() {
	g.mu.Lock()
	g.open++
	if g.pending > 0 {
		g.pending--
		g.handed++
	}
	g.mu.Unlock()
}

func (g *circuitGate) closed() {
	g.mu.Lock()
	g.open--
	g.mu.Unlock()
}

// wrap reads a hop stream's first message ahead of the relay, with the
// relay's own size limit and deadline. A CONNECT past the cap is answered
// here; everything else, including what cannot be read (but a stream silent
// past the deadline), goes to the relay with the bytes read replayed, so
// that the relay answers as it always has.
func (g *circuitGate) wrap(next network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		var seen bytes.Buffer
		_ = s.SetReadDeadline(time.Now().Add(circuit.StreamTimeout))
		b, err := framing.Read(bufio.NewReader(io.TeeReader(s, &seen)), HopMessageMax)
		_ = s.SetReadDeadline(time.Time{})
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			// What the relay does with a silent stream, without making it
			// wait its own StreamTimeout again.
			_ = s.Reset()
			return
		}
		replay := &replayStream{Stream: s, r: io.MultiReader(&seen, s)}
		var msg pbv2.HopMessage
		if err != nil || gproto.Unmarshal(b, &msg) != nil || msg.GetType() != pbv2.HopMessage_CONNECT {
			next(replay)
			return
		}
		if !g.admit() {
			g.refuse(s)
			return
		}
		defer g.admitted()
		next(replay)
	}
}

func (g *circuitGate) refuse(s network.Stream) {
	g.obs.Refused(limits.RelayActiveCircuits)
	if g.tracer != nil {
		g.tracer.ConnectionRequestHandled(pbv2.Status_RESOURCE_LIMIT_EXCEEDED)
	}
	msg := &pbv2.HopMessage{Type: pbv2.HopMessage_STATUS.Enum(), Status: pbv2.Status_RESOURCE_LIMIT_EXCEEDED.Enum()}
	out, err := gproto.Marshal(msg)
	if err == nil {
		_ = s.SetWriteDeadline(time.Now().Add(circuit.StreamTimeout))
		_, err = s.Write(framing.Append(nil, out))
	}
	if err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// replayStream is a stream whose first bytes were already read: they are
// read again first.
type replayStream struct {
	network.Stream
	r io.Reader
}

func (s *replayStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// gatedHop puts the gate in front of the relay's hop handler.
func (h relayHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	if pid == proto.ProtoIDv2Hop && h.gate != nil {
		handler = h.gate.wrap(handler)
	}
	h.Host.SetStreamHandler(pid, handler)
}
