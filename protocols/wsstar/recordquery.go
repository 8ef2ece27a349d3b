package wsstar

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	idpb "github.com/libp2p/go-libp2p/p2p/protocol/identify/pb"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
)

// A browser peer has no address when the node identifies it on connect, so
// that identify carries no signed record. It gains its circuit address by
// reserving a relay slot before it announces, but js-libp2p only tells the
// node through identify push, a separate service apps often leave out. So
// when a peer announces and the node holds no record for it, the node asks
// once more with an identify request of its own.
const (
	// maxIdentifyMessage and maxIdentifyMessages are go-libp2p identify's
	// own bounds on a (possibly chunked) identify answer.
	maxIdentifyMessage  = 8 << 10
	maxIdentifyMessages = 10
	// maxRecordQueries bounds the queries in flight over all peers.
	maxRecordQueries   = 64
	recordQueryTimeout = 10 * time.Second
)

// queryRecordLocked asks p for its record unless the node has one, already
// asked p, or has too many queries in flight. It runs under s.mu.
func (s *Service) queryRecordLocked(p peer.ID, ps *peerState) {
	if !ps.askedRecord {
		ps.askedRecord = s.startQueryLocked(p, nil)
	}
}

// QueryRecord asks connected peer p for its signed peer record, as the node
// asks a ws-star peer that announces without one, for members that joined by
// another protocol (pubsub announcements). done gets the record once the node
// holds it, at once when it already does; it is not called when p answers
// none, the query fails, or too many are in flight. The caller asks once per
// connection.
func (s *Service) QueryRecord(p peer.ID, done func(envelope []byte)) {
	s.mu.Lock()
	rec, held := s.records[p]
	if !held {
		s.startQueryLocked(p, done)
	}
	s.mu.Unlock()
	if held {
		done(rec.env)
	}
}

// startQueryLocked starts a query of p's record unless the node has one, is
// closed or has too many queries in flight, and reports whether it did. done,
// when not nil, gets the record the node holds after the query, if any. It
// runs under s.mu.
func (s *Service) startQueryLocked(p peer.ID, done func(envelope []byte)) bool {
	if s.closed || s.recordQueries >= maxRecordQueries {
		return false
	}
	if _, ok := s.records[p]; ok {
		return false
	}
	s.recordQueries++
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.queryRecord(p)
		s.mu.Lock()
		s.recordQueries--
		rec, ok := s.records[p]
		s.mu.Unlock()
		if ok && done != nil {
			done(rec.env)
		}
	}()
	return true
}

func (s *Service) queryRecord(p peer.ID) {
	ctx, cancel := context.WithTimeout(s.ctx, recordQueryTimeout)
	defer cancel()
	env, err := s.fetchRecord(ctx, p)
	if err != nil {
		s.log.Debug("record query failed", "peer", p, "err", err)
		return
	}
	if env == nil {
		s.log.Debug("record query: peer has no record", "peer", p)
		return
	}
	s.identified(event.EvtPeerIdentificationCompleted{Peer: p, SignedPeerRecord: env})
}

func (s *Service) fetchRecord(ctx context.Context, p peer.ID) (*record.Envelope, error) {
	// The peer is connected (it just announced); never dial it.
	ctx = network.WithNoDial(ctx, "ws-star record query")
	str, err := s.h.NewStream(ctx, p, identify.ID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = str.Reset() }()
	if err := str.Scope().SetService(ServiceName); err != nil {
		return nil, err
	}
	if err := str.Scope().ReserveMemory(maxIdentifyMessage, network.ReservationPriorityLow); err != nil {
		return nil, err
	}
	defer str.Scope().ReleaseMemory(maxIdentifyMessage)
	stop := context.AfterFunc(ctx, func() { _ = str.Reset() })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(deadline)
	}
	_ = str.CloseWrite()
	raw, err := readSignedRecord(str)
	if err != nil || raw == nil {
		return nil, err
	}
	env, _, err := record.ConsumeEnvelope(raw, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		return nil, err
	}
	return env, nil
}

var errIdentifyMessage = errors.New("malformed identify message")

// readSignedRecord reads an identify answer, a series of varint-delimited
// messages up to EOF, and returns the last signed record in it (nil if
// none).
func readSignedRecord(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(r, 512)
	var rec []byte
	for range maxIdentifyMessages {
		b, err := framing.Read(br, maxIdentifyMessage)
		if errors.Is(err, io.EOF) {
			return rec, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errIdentifyMessage, err)
		}
		var m idpb.Identify
		if err := proto.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%w: %w", errIdentifyMessage, err)
		}
		if len(m.SignedPeerRecord) > 0 {
			rec = m.SignedPeerRecord
		}
	}
	return rec, nil
}
