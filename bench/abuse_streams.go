package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relaypb "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	relayproto "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/internal/promtext"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	rpb "github.com/ws-star/rendezvous/protocols/rendezvous/pb"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	wpb "github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// Attacks over real libp2p connections: malformed and oversized messages,
// stream floods, floods of fresh peer IDs, and readers that never read.

// answerWait bounds the wait for the node's answer to one attempt; longer
// is a hang.
const answerWait = 10 * time.Second

// frameOf is one length-prefixed frame holding m.
func frameOf(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return framing.Append(nil, b)
}

// readAnswer reads the node's first message on str and names it: a
// protocol status, closed, reset or timeout.
func readAnswer(str network.Stream, p protocol.ID) (string, error) {
	_ = str.SetReadDeadline(time.Now().Add(answerWait))
	br := bufio.NewReader(str)
	switch p {
	case wsstar.ProtoID:
		b, err := framing.Read(br, wsstar.MaxServerMessageSize)
		if err != nil {
			return outcomeOf(err), err
		}
		m, err := wsstar.DecodeServerMessage(b)
		switch {
		case err != nil:
			return "undecodable answer", err
		case m.GetAck() != nil:
			return "status " + m.GetAck().GetStatus().String(), nil
		case m.GetClosed() != nil:
			return "Closed " + m.GetClosed().GetReason().String(), nil
		}
		return "peers", nil
	case rendezvous.ProtoID:
		b, err := framing.Read(br, 2<<20)
		if err != nil {
			return outcomeOf(err), err
		}
		var m rpb.Message
		if err := proto.Unmarshal(b, &m); err != nil {
			return "undecodable answer", err
		}
		switch {
		case m.GetRegisterResponse() != nil:
			return "status " + m.GetRegisterResponse().GetStatus().String(), nil
		case m.GetDiscoverResponse() != nil:
			return "status " + m.GetDiscoverResponse().GetStatus().String(), nil
		}
		return "answer " + m.GetType().String(), nil
	}
	if p == relayproto.ProtoIDv2Hop {
		b, err := framing.Read(br, 4096)
		if err != nil {
			return outcomeOf(err), err
		}
		var m relaypb.HopMessage
		if err := proto.Unmarshal(b, &m); err != nil {
			return "undecodable answer", err
		}
		return "status " + m.GetStatus().String(), nil
	}
	var b [1]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return outcomeOf(err), err
	}
	return "answered", nil
}

// oversizeCase is one malformed or over-limit message.
type oversizeCase struct {
	name  string
	proto protocol.ID
	data  []byte
	// closeWrite ends the attacker's side after data (a truncated message).
	closeWrite bool
}

func oversizeCases() []oversizeCase {
	big := func(n int) []byte { return framing.Append(nil, make([]byte, n)) }
	claim := func(n uint64) []byte { return append(binary.AppendUvarint(nil, n), 1, 2, 3) }
	badVarint := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	truncated := append(binary.AppendUvarint(nil, 100), make([]byte, 10)...)
	garbage := framing.Append(nil, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0xff})
	longNS := strings.Repeat("n", 300)
	join := func(ns string, maxPeers uint32) []byte {
		return frameOf(&wpb.ClientMessage{Msg: &wpb.ClientMessage_Join{Join: &wpb.Join{Ns: ns, MaxPeers: maxPeers}}})
	}
	rdv := func(m *rpb.Message) []byte { return frameOf(m) }
	reg := rpb.Message_REGISTER
	disc := rpb.Message_DISCOVER
	ttl := uint64(math.MaxUint64)
	limit := uint64(math.MaxUint64)
	var cases []oversizeCase
	for _, p := range []struct {
		name  string
		id    protocol.ID
		limit int
	}{{"ws-star", wsstar.ProtoID, wsstar.MaxClientMessageSize}, {"rendezvous", rendezvous.ProtoID, rendezvous.MaxMessageSize}, {"relay hop", relayproto.ProtoIDv2Hop, 4096}} {
		cases = append(cases,
			oversizeCase{name: p.name + ": frame 1 byte over its limit", proto: p.id, data: big(p.limit + 1)},
			oversizeCase{name: p.name + ": length prefix claiming 4 GiB", proto: p.id, data: claim(4 << 30)},
			oversizeCase{name: p.name + ": length prefix claiming 2^63", proto: p.id, data: claim(1 << 63)},
			oversizeCase{name: p.name + ": malformed varint", proto: p.id, data: badVarint},
			oversizeCase{name: p.name + ": truncated frame, then end of input", proto: p.id, data: truncated, closeWrite: true},
			oversizeCase{name: p.name + ": undecodable message", proto: p.id, data: garbage},
		)
	}
	cases = append(cases,
		oversizeCase{name: "ws-star: namespace of 300 bytes", proto: wsstar.ProtoID, data: join(longNS, 0)},
		oversizeCase{name: "ws-star: max_peers 2^32-1", proto: wsstar.ProtoID, data: join("oversize/a", math.MaxUint32)},
		oversizeCase{name: "rendezvous: REGISTER namespace of 300 bytes", proto: rendezvous.ProtoID,
			data: rdv(&rpb.Message{Type: &reg, Register: &rpb.Message_Register{Ns: &longNS, SignedPeerRecord: []byte{1}}})},
		oversizeCase{name: "rendezvous: REGISTER bad record, ttl 2^64-1", proto: rendezvous.ProtoID,
			data: rdv(&rpb.Message{Type: &reg, Register: &rpb.Message_Register{Ns: new("oversize/a"), SignedPeerRecord: make([]byte, 60<<10), Ttl: &ttl}})},
		oversizeCase{name: "rendezvous: DISCOVER limit 2^64-1", proto: rendezvous.ProtoID,
			data: rdv(&rpb.Message{Type: &disc, Discover: &rpb.Message_Discover{Ns: new("bench/0"), Limit: &limit}})},
		oversizeCase{name: "rendezvous: DISCOVER cookie of 60 KiB", proto: rendezvous.ProtoID,
			data: rdv(&rpb.Message{Type: &disc, Discover: &rpb.Message_Discover{Ns: new("bench/0"), Cookie: make([]byte, 60<<10)}})},
	)
	return cases
}

// oversize sends every oversizeCase on a fresh stream, round after round
// from a few attacking peers, and records what came back.
func oversize(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hs := e.attackers(ctx, 4, "connect", res)
	closeOnce(ready)
	cases := oversizeCases()
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Go(func() {
			for !stopped(stop) && ctx.Err() == nil {
				for _, c := range cases {
					k, err := sendCase(ctx, h, e.t.Info.ID, c)
					res.countAs(c.name, k, err)
				}
			}
		})
	}
	wg.Wait()
	for _, c := range cases {
		n, hangs, sum := res.caseSummary(c.name)
		res.check("oversize: "+c.name+": hangs", float64(hangs), "attempts", "= 0", 0, true, fmt.Sprintf("%d sent: %s", n, sum))
	}
}

func sendCase(ctx context.Context, h host.Host, node peer.ID, c oversizeCase) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	str, err := h.NewStream(sctx, node, c.proto)
	if err != nil {
		return "open " + outcomeOf(err), err
	}
	defer str.Reset()
	_ = str.SetWriteDeadline(time.Now().Add(answerWait))
	if _, err := str.Write(c.data); err != nil {
		return "write " + outcomeOf(err), err
	}
	if c.closeWrite {
		_ = str.CloseWrite()
	}
	return readAnswer(str, c.proto)
}

// caseSummary sums the outcomes recorded under what.
func (a *attackResult) caseSummary(what string) (n, hangs int64, summary string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []string
	for k, v := range a.outcomes {
		kind, ok := strings.CutPrefix(k, what+": ")
		if !ok {
			continue
		}
		n += v
		if kind == outcomeTimeout {
			hangs += v
		}
		parts = append(parts, fmt.Sprintf("%s %d", kind, v))
	}
	slices.Sort(parts)
	return n, hangs, strings.Join(parts, ", ")
}

// floodProtocols are the node's protocols a stream flood opens.
var floodProtocols = []protocol.ID{wsstar.ProtoID, rendezvous.ProtoID, relayproto.ProtoIDv2Hop, ping.ID, identify.ID}

// maxHeldStreams bounds the streams the stream flood keeps open.
const maxHeldStreams = 4096

// streamFlood opens streams of every protocol from one peer as fast as it
// can, sends each a request and keeps it open (up to maxHeldStreams, then
// resets new ones after their answer).
func streamFlood(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hs := e.attackers(ctx, 1, "connect", res)
	if len(hs) == 0 {
		return
	}
	h := hs[0]
	closeOnce(ready)
	var n, opened atomic.Int64
	var mu sync.Mutex
	var held []network.Stream
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for !stopped(stop) && ctx.Err() == nil {
				i := n.Add(1)
				p := floodProtocols[int(i)%len(floodProtocols)]
				sctx, cancel := context.WithTimeout(ctx, answerWait)
				str, err := h.NewStream(sctx, e.t.Info.ID, p)
				cancel()
				if err != nil {
					res.countAs(string(p), "open "+outcomeOf(err), err)
					continue
				}
				opened.Add(1)
				k, err := floodRequest(str, p, i)
				res.countAs(string(p), k, err)
				mu.Lock()
				if len(held) < maxHeldStreams && p != identify.ID {
					held = append(held, str)
					str = nil
				}
				mu.Unlock()
				if str != nil {
					_ = str.Reset()
				}
			}
		})
	}
	wg.Wait()
	res.check("stream-flood: streams opened", float64(opened.Load()), "streams", "", 0, false,
		fmt.Sprintf("%d attempts; %d held open at the end", n.Load(), len(held)))
	for _, s := range held {
		_ = s.Reset()
	}
}

// floodRequest sends one request of protocol p and reads the answer.
func floodRequest(str network.Stream, p protocol.ID, i int64) (string, error) {
	_ = str.SetWriteDeadline(time.Now().Add(answerWait))
	var err error
	switch p {
	case wsstar.ProtoID:
		_, err = str.Write(frameOf(&wpb.ClientMessage{Msg: &wpb.ClientMessage_Join{Join: &wpb.Join{Ns: fmt.Sprintf("sflood/%d", i)}}}))
	case rendezvous.ProtoID:
		t, l := rpb.Message_DISCOVER, uint64(10)
		_, err = str.Write(frameOf(&rpb.Message{Type: &t, Discover: &rpb.Message_Discover{Ns: new("bench/0"), Limit: &l}}))
	case ping.ID:
		_, err = str.Write(make([]byte, ping.PingSize))
	case relayproto.ProtoIDv2Hop:
		// A circuit to a peer without a reservation: NO_RESERVATION.
		t := relaypb.HopMessage_CONNECT
		_, err = str.Write(frameOf(&relaypb.HopMessage{Type: &t, Peer: &relaypb.Peer{Id: []byte(str.Conn().LocalPeer())}}))
	}
	if err != nil {
		return "write " + outcomeOf(err), err
	}
	return readAnswer(str, p)
}

// joinFlood: fresh peer IDs each open one stream more than the per-peer cap
// and join new namespaces with announce (and one shared namespace) as fast
// as the node answers, up to the per-stream, per-peer and node-wide caps.
func joinFlood(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hs := e.attackers(ctx, e.o.Attackers, "connect", res)
	closeOnce(ready)
	const streamsPerPeer = 5 // wsstar.max_streams_per_peer (4) + 1
	var wg sync.WaitGroup
	for a, h := range hs {
		wg.Go(func() {
			var cs []*wsstar.Client
			defer func() {
				for _, c := range cs {
					_ = c.Reset()
				}
			}()
			for range streamsPerPeer {
				c, err := wsstar.Dial(ctx, h, e.t.Info.ID)
				if err != nil {
					res.count("open stream", err)
					continue
				}
				go func() {
					for range c.C() {
					}
				}()
				cs = append(cs, c)
			}
			for k := 0; !stopped(stop) && ctx.Err() == nil && len(cs) > 0; k++ {
				c := cs[k%len(cs)]
				ns := fmt.Sprintf("jflood/%d/%d", a, k)
				if k%10 == 0 {
					ns = "jflood/shared"
				}
				jctx, cancel := context.WithTimeout(ctx, answerWait)
				_, err := c.Join(jctx, ns, true, 0)
				cancel()
				if res.count("join", err) == outcomeClosed {
					cs = deleteClient(cs, c)
				}
			}
		})
	}
	wg.Wait()
}

func deleteClient(cs []*wsstar.Client, c *wsstar.Client) []*wsstar.Client {
	out := cs[:0]
	for _, x := range cs {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}

// registerFlood: fresh peer IDs each REGISTER in new namespaces past the
// per-peer cap, then DISCOVER with the largest limit, as fast as the node
// answers.
func registerFlood(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hs := e.attackers(ctx, e.o.Attackers, "connect", res)
	closeOnce(ready)
	var most atomic.Int64
	var wg sync.WaitGroup
	for a, h := range hs {
		wg.Go(func() {
			addrs := circuitAddrs(e.t.Info, h.ID())
			c := rendezvous.NewClient(h, e.t.Info.ID, rendezvous.WithAddrs(func() []ma.Multiaddr { return addrs }))
			defer c.Close()
			// Every attacker gets through its registrations and a few
			// DISCOVERs, however slowly the machine lets them go.
			for k := 0; (k < 44 || !stopped(stop)) && ctx.Err() == nil; k++ {
				octx, cancel := context.WithTimeout(ctx, answerWait)
				switch {
				case k < 40: // registry.max_registrations_per_peer (32) + 8
					_, err := c.Register(octx, fmt.Sprintf("rflood/%d/%d", a, k), 0)
					res.count("REGISTER", err)
				default:
					ns := "rflood/0/0"
					if k%2 == 0 {
						ns = nsName(0, e.o.NSSize)
					}
					regs, _, err := c.Discover(octx, ns, math.MaxInt32, nil)
					res.count("DISCOVER limit 2^31-1", err)
					if n := int64(len(regs)); n > most.Load() {
						most.Store(n)
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	res.check("register-flood: largest DISCOVER answer", float64(most.Load()), "regs",
		"", 0, true, "rendezvous.max_discover_limit bounds it")
	// The attackers' registrations outlive them (presence_grace, or their
	// TTL): can an honest peer still start a namespace of its own?
	keys, err := Keys("", 1)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, e.o.StepTimeout)
		p, err := e.s.start(sctx, keys[0], "abuse/fresh-after-register-flood", false)
		cancel()
		ok := 0.0
		note := "joined"
		if err == nil {
			ok = 1
			e.s.stop(p, false)
		} else {
			note = oneLine(err)
		}
		res.check("register-flood: honest join of a new namespace after it", ok, "", "= 1", 1, false, note)
	}
}

// reservationFlood: fresh peer IDs each reserve a relay slot, and renew it
// twice, and hold it.
func reservationFlood(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	hs := e.attackers(ctx, e.o.Attackers, "connect", res)
	var wg sync.WaitGroup
	var held atomic.Int64
	for _, h := range hs {
		wg.Go(func() {
			ok := false
			for range 3 {
				rctx, cancel := context.WithTimeout(ctx, answerWait)
				_, err := client.Reserve(rctx, h, e.t.Info)
				cancel()
				if res.count("RESERVE", err) == outcomeOK {
					ok = true
				}
			}
			if ok {
				held.Add(1)
			}
		})
	}
	wg.Wait()
	closeOnce(ready)
	res.check("reservation-flood: attacker reservations held", float64(held.Load()), "reservations", "", 0, true,
		fmt.Sprintf("of %d attacking peers", len(hs)))
	select {
	case <-stop:
	case <-ctx.Done():
	}
}

// overflowsMetric counts views the node ended with OVERFLOW.
var overflowsMetric = promtext.Series{Name: "rendezvous_wsstar_closes_total", Labels: []string{"reason", "OVERFLOW"}}

// stuckWindow is the stuck readers' yamux receive window: a browser's
// (js-libp2p's yamux default); go-libp2p's 16 MiB would hold minutes of
// changes before the node felt any back-pressure.
const stuckWindow = 256 << 10

// churnStay is how long a churner stays in, and out of, the busy namespace.
const churnStay = 250 * time.Millisecond

// stuckReader: watchers of a busy namespace that never read their stream,
// while churners join and leave it and honest watchers read it. The node
// must end the stuck views (OVERFLOW) or reset them (write timeout); the
// honest watchers must keep up.
func stuckReader(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	const busy = "abuse/busy"
	nStuck := min(e.o.Attackers, 50)
	nChurn := min(e.o.Attackers, 100)
	ov0, _ := scrapeSeries(e.t.MetricsURL, overflowsMetric)

	// Honest watchers of the busy namespace, in the swarm: an OVERFLOW or
	// any close of theirs shows in the phase's honest rows.
	keys, err := Keys("", 10)
	if err != nil {
		res.count("honest watcher", err)
		return
	}
	for _, k := range keys {
		sctx, cancel := context.WithTimeout(ctx, e.o.StepTimeout)
		p, err := e.s.start(sctx, k, busy, false)
		cancel()
		if err != nil {
			res.count("honest watcher", err)
			continue
		}
		defer e.s.stop(p, false)
	}
	mux := *yamux.DefaultTransport
	mux.MaxStreamWindowSize = stuckWindow
	stuckHosts := e.attackersWith(ctx, nStuck, "connect", res, &mux)
	var stuck []network.Stream
	for _, h := range stuckHosts {
		sctx, cancel := context.WithTimeout(ctx, answerWait)
		str, err := h.NewStream(sctx, e.t.Info.ID, wsstar.ProtoID)
		cancel()
		if err != nil {
			res.count("stuck reader: open", err)
			continue
		}
		_ = str.SetWriteDeadline(time.Now().Add(answerWait))
		if _, err := str.Write(frameOf(&wpb.ClientMessage{Msg: &wpb.ClientMessage_Join{Join: &wpb.Join{Ns: busy, MaxPeers: 256}}})); err != nil {
			res.count("stuck reader: join", err)
			_ = str.Reset()
			continue
		}
		stuck = append(stuck, str)
	}
	churners := e.attackers(ctx, nChurn, "connect", res)
	closeOnce(ready)
	churnStop := make(chan struct{})
	var churns atomic.Int64
	var wg sync.WaitGroup
	for _, h := range churners {
		wg.Go(func() {
			c, err := wsstar.Dial(ctx, h, e.t.Info.ID)
			if err != nil {
				res.count("churner: open", err)
				return
			}
			defer c.Reset()
			go func() {
				for range c.C() {
				}
			}()
			// A member stays longer than a flush interval (100 ms), so that
			// its JOINED and LEFT reach the views instead of cancelling out
			// in one batch; two joins a second stay under
			// wsstar.join_rate (5).
			for !stopped(churnStop) && ctx.Err() == nil {
				jctx, cancel := context.WithTimeout(ctx, answerWait)
				_, err := c.Join(jctx, busy, true, 0)
				cancel()
				if err != nil {
					res.count("churner: join", err)
				} else {
					churns.Add(1)
				}
				_ = sleepOrStop(churnStay, churnStop)
				if err == nil {
					_ = c.Leave(busy)
				}
				_ = sleepOrStop(churnStay, churnStop)
			}
		})
	}
	// Churn for the window, then until every stuck view has ended or 30 s
	// more (past wsstar.write_timeout).
	select {
	case <-stop:
	case <-ctx.Done():
	}
	// A stream the node reset (write timeout) fails a write: a Leave of a
	// namespace it never joined, which the node ignores otherwise.
	leave := frameOf(&wpb.ClientMessage{Msg: &wpb.ClientMessage_Leave{Leave: &wpb.Leave{Ns: "abuse/none"}}})
	gone := make([]bool, len(stuck))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resets := 0
		for i, str := range stuck {
			if !gone[i] {
				_ = str.SetWriteDeadline(time.Now().Add(time.Second))
				_, err := str.Write(leave)
				gone[i] = err != nil && outcomeOf(err) != outcomeTimeout
			}
			if gone[i] {
				resets++
			}
		}
		v, err := scrapeSeries(e.t.MetricsURL, overflowsMetric)
		if err == nil && v-ov0+float64(resets) >= float64(len(stuck)) {
			break
		}
		_ = sleep(ctx, 250*time.Millisecond)
	}
	close(churnStop)
	wg.Wait()
	ov1, _ := scrapeSeries(e.t.MetricsURL, overflowsMetric)
	var open atomic.Int64
	var dw sync.WaitGroup
	for _, str := range stuck {
		dw.Go(func() {
			k, err := drainUntilClosed(str)
			res.countAs("stuck reader", k, err)
			if k == "still open" {
				open.Add(1)
			}
			_ = str.Reset()
		})
	}
	dw.Wait()
	res.check("stuck-reader: stuck views not ended", float64(open.Load()), "views", "= 0", 0, true,
		fmt.Sprintf("of %d; node counted %.0f OVERFLOW closes; %d join+leave cycles of churn", len(stuck), ov1-ov0, churns.Load()))
}

// drainUntilClosed reads what a stuck reader never read, until the node's
// Closed message, the stream's end, or 5 s without them.
func drainUntilClosed(str network.Stream) (string, error) {
	br := bufio.NewReaderSize(str, 64<<10)
	for {
		_ = str.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := framing.Read(br, wsstar.MaxServerMessageSize)
		if err != nil {
			if k := outcomeOf(err); k != outcomeTimeout {
				return k, err
			}
			return "still open", nil
		}
		m, err := wsstar.DecodeServerMessage(b)
		if err != nil {
			return "undecodable answer", err
		}
		if c := m.GetClosed(); c != nil {
			return "Closed " + c.GetReason().String(), nil
		}
	}
}

// sleepOrStop waits d, or until stop; it reports whether stop came first.
func sleepOrStop(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return false
	case <-stop:
		return true
	}
}
