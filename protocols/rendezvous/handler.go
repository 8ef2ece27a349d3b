package rendezvous

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
)

// after tells the stream loop what to do once a request is handled.
type after int

const (
	keepServing after = iota
	closeStream       // reply sent; the sender is not trusted with more
	resetStream       // nothing can be answered safely
)

// handleStream serves requests on one stream until the peer half-closes it
// (rust clients send one request per stream), goes idle for the stream
// timeout, or sends something that ends it. Go and js clients send several
// requests on one stream.
func (s *Service) handleStream(str network.Stream) {
	p := str.Conn().RemotePeer()
	if err := str.Scope().SetService(ServiceName); err != nil {
		s.log.Debug("stream refused by resource manager", "peer", p, "err", err)
		_ = str.Reset()
		return
	}
	switch s.acquireStream(str) {
	case admitted:
	case overPeerLimit:
		s.cfg.limits.Refused(limits.RendezvousStreams)
		s.refuseStream(str, limits.Text("too many concurrent streams", limits.RendezvousStreams))
		return
	case overPeerTable:
		s.cfg.limits.Refused(limits.Connections)
		s.refuseStream(str, limits.Text("too many peers", limits.Connections))
		return
	default:
		_ = str.Reset()
		return
	}
	defer s.releaseStream(str)

	r := bufio.NewReader(str)
	for {
		// The deadline covers the wait for the request and the reply.
		_ = str.SetDeadline(time.Now().Add(s.cfg.lim.StreamTimeout.D()))
		b, err := readFrame(r, MaxMessageSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				_ = str.Close()
				return
			}
			// Over-size or cut-off frames and idle timeouts: there is no
			// request to answer and the framing may be lost.
			s.log.Debug("stream ended", "peer", p, "err", err)
			_ = str.Reset()
			return
		}
		reply, next := s.handleFrame(p, str.Conn(), b)
		if reply != nil {
			if err := writeMsg(str, reply); err != nil {
				s.log.Debug("reply failed", "peer", p, "err", err)
				_ = str.Reset()
				return
			}
		}
		switch next {
		case closeStream:
			_ = str.Close()
			return
		case resetStream:
			_ = str.Reset()
			return
		}
	}
}

// refuseStream answers the first request of a stream that is over a limit
// with E_UNAVAILABLE, so that the client sees why, then closes it.
func (s *Service) refuseStream(str network.Stream, why string) {
	p := str.Conn().RemotePeer()
	s.log.Debug("stream refused", "peer", p, "reason", why)
	_ = str.SetDeadline(time.Now().Add(min(s.cfg.lim.StreamTimeout.D(), overflowReadTimeout)))
	b, err := readFrame(bufio.NewReader(str), MaxMessageSize)
	if err != nil {
		_ = str.Reset()
		return
	}
	t, ok := messageType(b)
	if !ok || (t != pb.Message_REGISTER && t != pb.Message_DISCOVER) {
		_ = str.Reset()
		return
	}
	s.mt.RequestAnswered(t, StatusUnavailable)
	if err := writeMsg(str, errorReply(t, fail(StatusUnavailable, "%s", why))); err != nil {
		_ = str.Reset()
		return
	}
	_ = str.Close()
}

// messageType returns the request type of a frame, decodable or not.
func messageType(b []byte) (pb.Message_MessageType, bool) {
	if m, err := decodeMessage(b); err == nil {
		return requestType(m), true
	}
	return peekType(b)
}

// handleFrame answers one request frame.
//
// An undecodable REGISTER is answered E_INVALID_SIGNED_PEER_RECORD and an
// undecodable DISCOVER E_INVALID_NAMESPACE (the spec has no "bad request";
// these name the fields such messages are mostly made of), then the stream
// is closed. A message of an unknown type, a response type, or an
// undecodable one whose type cannot be told has no reply that the sender
// could match, so the stream is reset.
func (s *Service) handleFrame(p peer.ID, c network.Conn, b []byte) (*pb.Message, after) {
	m, err := decodeMessage(b)
	if err != nil {
		t, ok := peekType(b)
		s.log.Debug("undecodable message", "peer", p, "err", err)
		switch {
		case ok && t == pb.Message_REGISTER:
			s.mt.RequestAnswered(t, StatusInvalidSignedPeerRecord)
			return errorReply(t, fail(StatusInvalidSignedPeerRecord, "malformed message")), closeStream
		case ok && t == pb.Message_DISCOVER:
			s.mt.RequestAnswered(t, StatusInvalidNamespace)
			return errorReply(t, fail(StatusInvalidNamespace, "malformed message")), closeStream
		}
		return nil, resetStream
	}
	t := requestType(m)
	switch t {
	case pb.Message_REGISTER, pb.Message_DISCOVER:
		var reply *pb.Message
		var serr *statusErr
		if !s.allow(p) {
			s.cfg.limits.Refused(limits.RequestRate)
			serr = fail(StatusUnavailable, "%s", limits.Text("rate limit exceeded", limits.RequestRate))
		} else if t == pb.Message_REGISTER {
			reply, serr = s.register(p, c, m.GetRegister())
		} else {
			reply, serr = s.discover(p, m.GetDiscover())
		}
		if serr != nil {
			s.log.Debug("request refused", "peer", p, "type", t.String(), "status", serr.status.String(), "reason", serr.text)
			reply = errorReply(t, serr)
		}
		s.mt.RequestAnswered(t, replyStatus(reply))
		return reply, keepServing
	case pb.Message_UNREGISTER:
		// Not rate limited: it only ever shrinks what we hold.
		s.unregister(p, m.GetUnregister())
		s.mt.RequestAnswered(t, StatusOK)
		return nil, keepServing
	}
	s.log.Debug("unexpected message type", "peer", p, "type", int32(t))
	return nil, resetStream
}

// errorReply is the response of type t's request carrying err's status.
func errorReply(t pb.Message_MessageType, err *statusErr) *pb.Message {
	if t == pb.Message_DISCOVER {
		return &pb.Message{
			Type: pb.Message_DISCOVER_RESPONSE.Enum(),
			DiscoverResponse: &pb.Message_DiscoverResponse{
				Status:     err.status.Enum(),
				StatusText: &err.text,
			},
		}
	}
	return &pb.Message{
		Type: pb.Message_REGISTER_RESPONSE.Enum(),
		RegisterResponse: &pb.Message_RegisterResponse{
			Status:     err.status.Enum(),
			StatusText: &err.text,
		},
	}
}

func replyStatus(m *pb.Message) Status {
	if r := m.GetDiscoverResponse(); r != nil {
		return r.GetStatus()
	}
	return m.GetRegisterResponse().GetStatus()
}
