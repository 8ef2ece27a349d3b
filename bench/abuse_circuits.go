package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relaypb "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	relayproto "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/internal/promtext"
)

// Relayed circuits: attacking peers open circuit relay v2 CONNECTs through
// the node to reserved target peers as fast as the node answers, and hold
// every circuit they get, past relay.max_circuits (per peer) and
// relay.max_active_circuits (node-wide).

// circuitsOpenedMetric and circuitsClosedMetric count the relay's circuits;
// their difference is the circuits open.
var (
	circuitsOpenedMetric = promtext.Series{Name: "libp2p_relaysvc_connections_total", Labels: []string{"type", "opened"}}
	circuitsClosedMetric = promtext.Series{Name: "libp2p_relaysvc_connections_total", Labels: []string{"type", "closed"}}
)

// circuitsOpen is the node's open circuits, from its relay metrics.
func circuitsOpen(metricsURL string) (float64, error) {
	// A counter has no sample before its first circuit: zero. The relay's
	// status gauge tells a node without relay metrics.
	if _, err := scrapeGauge(metricsURL, "libp2p_relaysvc_status"); err != nil {
		return math.NaN(), err
	}
	o, _ := scrapeSeries(metricsURL, circuitsOpenedMetric)
	c, _ := scrapeSeries(metricsURL, circuitsClosedMetric)
	return o - c, nil
}

// relayLimits are relay.max_circuits and relay.max_active_circuits of a
// node the tool starts for o.
func relayLimits(o AbuseOptions) (perPeer, active int) {
	c := config.Default()
	c.Capacity.Peers = o.Capacity
	c = c.Sized(config.Machine{})
	return c.Relay.MaxCircuits, c.Relay.MaxActiveCircuits
}

// stopHolder accepts every circuit the relay brings to a target (the stop
// side, by hand, so that the circuit is a raw pipe the attack holds) and
// keeps it until the relay or the initiator ends it.
type stopHolder struct {
	mu          sync.Mutex
	open, most  map[host.Host]int
	total, seen atomic.Int64
}

func (s *stopHolder) handler(h host.Host) network.StreamHandler {
	return func(str network.Stream) {
		s.seen.Add(1)
		_ = str.SetReadDeadline(time.Now().Add(answerWait))
		if _, err := framing.Read(bufio.NewReader(str), 4096); err != nil {
			_ = str.Reset()
			return
		}
		t, st := relaypb.StopMessage_STATUS, relaypb.Status_OK
		_ = str.SetWriteDeadline(time.Now().Add(answerWait))
		if _, err := str.Write(frameOf(&relaypb.StopMessage{Type: &t, Status: &st})); err != nil {
			_ = str.Reset()
			return
		}
		_ = str.SetDeadline(time.Time{})
		s.mu.Lock()
		s.open[h]++
		s.most[h] = max(s.most[h], s.open[h])
		s.mu.Unlock()
		s.total.Add(1)
		_, _ = io.Copy(io.Discard, str)
		s.mu.Lock()
		s.open[h]--
		s.mu.Unlock()
		_ = str.Reset()
	}
}

func (s *stopHolder) maxPerTarget() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := 0
	for _, v := range s.most {
		m = max(m, v)
	}
	return m
}

// circuitFlood: o.Attackers/2 targets reserve a slot and accept every
// circuit; o.Attackers initiators each CONNECT to every target, as fast as
// the node answers, and hold what they get. Then an honest peer reserves
// and asks for a circuit through the node; then the attackers leave and the
// node's open circuits must come back to what they were.
func circuitFlood(ctx context.Context, e *abuseEnv, res *attackResult, ready chan<- struct{}, stop <-chan struct{}) {
	defer closeOnce(ready)
	perPeer, active := relayLimits(e.o)
	before := math.NaN()
	if e.t.MetricsURL != "" {
		before, _ = circuitsOpen(e.t.MetricsURL)
	}
	nTargets := max(e.o.Attackers/2, 1)
	targets := e.attackers(ctx, nTargets, "target: connect", res)
	holder := &stopHolder{open: make(map[host.Host]int), most: make(map[host.Host]int)}
	var wg sync.WaitGroup
	var reserved []host.Host
	var mu sync.Mutex
	for _, h := range targets {
		h.SetStreamHandler(relayproto.ProtoIDv2Stop, holder.handler(h))
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, answerWait)
			_, err := client.Reserve(rctx, h, e.t.Info)
			cancel()
			if res.count("target: RESERVE", err) == outcomeOK {
				mu.Lock()
				reserved = append(reserved, h)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	initiators := e.attackers(ctx, e.o.Attackers, "initiator: connect", res)
	if len(reserved) == 0 || len(initiators) == 0 {
		res.check("circuit-flood: targets reserved and initiators connected", 0, "", "= 1", 1, false,
			fmt.Sprintf("%d targets reserved, %d initiators", len(reserved), len(initiators)))
		return
	}

	// Every initiator to every target, interleaved so that all targets fill
	// at once.
	type pair struct{ from, to host.Host }
	pairs := make(chan pair)
	var held []network.Stream
	var ok, tried atomic.Int64
	var peak atomic.Int64
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for p := range pairs {
				tried.Add(1)
				str, k, err := openCircuit(ctx, p.from, e.t.Info.ID, p.to)
				res.countAs("CONNECT", k, err)
				if str == nil {
					continue
				}
				ok.Add(1)
				mu.Lock()
				held = append(held, str)
				mu.Unlock()
			}
		})
	}
	for j := range len(reserved) {
		for i, from := range initiators {
			if stopped(stop) || ctx.Err() != nil {
				break
			}
			pairs <- pair{from, reserved[(i+j)%len(reserved)]}
		}
	}
	close(pairs)
	wg.Wait()
	floodSecs := time.Since(start).Seconds()
	if e.t.MetricsURL != "" {
		if v, err := circuitsOpen(e.t.MetricsURL); err == nil {
			peak.Store(int64(v - before))
		}
	}

	// An honest peer, during the flood: a reservation and a circuit of its own.
	honest := e.attackers(ctx, 2, "honest: connect", res)
	honestOK := 0.0
	honestNote := "could not connect"
	if len(honest) == 2 {
		hs := &stopHolder{open: make(map[host.Host]int), most: make(map[host.Host]int)}
		honest[1].SetStreamHandler(relayproto.ProtoIDv2Stop, hs.handler(honest[1]))
		rctx, cancel := context.WithTimeout(ctx, answerWait)
		_, err := client.Reserve(rctx, honest[1], e.t.Info)
		cancel()
		honestNote = "RESERVE: " + outcomeOf(err)
		if err == nil {
			// With the node-wide cap reached, RESOURCE_LIMIT_EXCEEDED is
			// the right answer; a reset or a hang is not.
			str, k, err := openCircuit(ctx, honest[0], e.t.Info.ID, honest[1])
			honestNote += "; CONNECT: " + k
			if err != nil {
				honestNote += " (" + oneLine(err) + ")"
			}
			if strings.HasPrefix(k, "status ") {
				honestOK = 1
			}
			if str != nil {
				_ = str.Reset()
			}
		} else {
			honestNote += " (" + oneLine(err) + ")"
		}
	}
	closeOnce(ready)
	select {
	case <-stop:
	case <-ctx.Done():
	}

	res.check("circuit-flood: circuits granted", float64(ok.Load()), "circuits", "", 0, false,
		fmt.Sprintf("of %d CONNECTs from %d initiators to %d reserved targets, in %.1f s; relay.max_circuits %d, relay.max_active_circuits %d (of a node the tool starts)",
			tried.Load(), len(initiators), len(reserved), floodSecs, perPeer, active))
	res.check("circuit-flood: circuits held at a target, max", float64(holder.maxPerTarget()), "circuits",
		fmt.Sprintf("<= %d (relay.max_circuits)", perPeer), float64(perPeer), true, "")
	openNote := "the relay's libp2p_relaysvc_connections_total opened − closed, over the count before"
	peakV := math.NaN()
	if e.t.MetricsURL != "" {
		peakV = float64(peak.Load())
	}
	res.check("circuit-flood: circuits open at the node", peakV, "circuits",
		fmt.Sprintf("<= %d (relay.max_active_circuits)", active), float64(active), true, openNote)
	res.check("circuit-flood: honest RESERVE during the flood, and a status for its CONNECT", honestOK, "", "= 1", 1, false, honestNote)

	// The attackers leave; their circuits must be released.
	mu.Lock()
	for _, s := range held {
		_ = s.Reset()
	}
	mu.Unlock()
	e.closeAttackers()
	if e.t.MetricsURL != "" {
		after, _ := circuitsOpen(e.t.MetricsURL)
		deadline := time.Now().Add(20 * time.Second)
		for after > before && time.Now().Before(deadline) && sleep(ctx, 250*time.Millisecond) == nil {
			after, _ = circuitsOpen(e.t.MetricsURL)
		}
		res.check("circuit-flood: circuits open after", after-before, "circuits", "= 0", 0, true,
			"within 20 s of the attackers leaving, over the count before the attack")
	}
}

// openCircuit sends a CONNECT for to through the node from from, and
// returns the stream when the relay answered OK (the circuit, held by the
// caller), with the answer's name.
func openCircuit(ctx context.Context, from host.Host, relay peer.ID, to host.Host) (network.Stream, string, error) {
	sctx, cancel := context.WithTimeout(ctx, answerWait)
	str, err := from.NewStream(sctx, relay, relayproto.ProtoIDv2Hop)
	cancel()
	if err != nil {
		return nil, "open " + outcomeOf(err), err
	}
	t := relaypb.HopMessage_CONNECT
	_ = str.SetWriteDeadline(time.Now().Add(answerWait))
	if _, err := str.Write(frameOf(&relaypb.HopMessage{Type: &t, Peer: &relaypb.Peer{Id: []byte(to.ID())}})); err != nil {
		_ = str.Reset()
		return nil, "write " + outcomeOf(err), err
	}
	k, err := readAnswer(str, relayproto.ProtoIDv2Hop)
	if k != "status "+relaypb.Status_OK.String() {
		_ = str.Reset()
		return nil, k, err
	}
	_ = str.SetDeadline(time.Time{})
	return str, k, nil
}
