package wsstar

import (
	"bufio"
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// Message size caps of the wire format.
const (
	MaxClientMessageSize = 4 << 10
	MaxServerMessageSize = 1 << 20
)

var errMessageTooLarge = framing.ErrTooLarge

// readFrame reads one length-prefixed frame of at most limit bytes; see
// framing.Read.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	return framing.Read(r, limit)
}

// appendFrame appends the varint length prefix and msg to dst.
func appendFrame(dst, msg []byte) []byte { return framing.Append(dst, msg) }

// DecodeClientMessage parses one client message body (without the prefix).
// Invalid UTF-8 in a string field is a decode error (proto3 semantics).
func DecodeClientMessage(b []byte) (*pb.ClientMessage, error) {
	if len(b) > MaxClientMessageSize {
		return nil, errMessageTooLarge
	}
	m := new(pb.ClientMessage)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeServerMessage parses one server message body (without the prefix).
func DecodeServerMessage(b []byte) (*pb.ServerMessage, error) {
	if len(b) > MaxServerMessageSize {
		return nil, errMessageTooLarge
	}
	m := new(pb.ServerMessage)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// marshalFrame returns nil only for a message that cannot be marshalled
// (invalid UTF-8 in a string), which the node never builds: namespaces come
// from decoded, hence valid, client messages. Writers skip nil frames.
func marshalFrame(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil
	}
	return appendFrame(make([]byte, 0, len(b)+binary.MaxVarintLen32), b)
}

func ackFrame(a *pb.JoinAck) []byte {
	return marshalFrame(&pb.ServerMessage{Msg: &pb.ServerMessage_Ack{Ack: a}})
}

func closedFrame(ns string, reason pb.Closed_CloseReason, text string) []byte {
	return marshalFrame(&pb.ServerMessage{Msg: &pb.ServerMessage_Closed{Closed: &pb.Closed{Ns: ns, Reason: reason, Text: text}}})
}

// Peer events are assembled by hand: a member's peer_id, addrs and record are
// encoded once (eventBody) and reused for every view it is sent to, so a
// fan-out costs one append per view instead of one proto.Marshal. Protobuf
// parsers accept fields in any order, so kind and reason follow the body.

// eventBody encodes PeerEvent fields 2-4.
func eventBody(id []byte, addrs [][]byte, record []byte) []byte {
	n := protowire.SizeTag(2) + protowire.SizeBytes(len(id)) + protowire.SizeTag(4) + protowire.SizeBytes(len(record))
	for _, a := range addrs {
		n += protowire.SizeTag(3) + protowire.SizeBytes(len(a))
	}
	b := make([]byte, 0, n)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, id)
	for _, a := range addrs {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, a)
	}
	if len(record) > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, record)
	}
	return b
}

// eventSize is the encoded size of one PeerEvent inside Peers.events.
func eventSize(kind pb.PeerEvent_Kind, body []byte, reason pb.LeftReason) int {
	n := len(body) + protowire.SizeTag(1) + protowire.SizeVarint(uint64(kind))
	if reason != 0 {
		n += protowire.SizeTag(5) + protowire.SizeVarint(uint64(reason))
	}
	return protowire.SizeTag(3) + protowire.SizeBytes(n)
}

// peersEncoder builds one Peers message as a ServerMessage frame.
type peersEncoder struct {
	buf []byte // Peers body
	n   int    // events
}

func newPeersEncoder(ns string, snapshot bool, sizeHint int) *peersEncoder {
	b := make([]byte, 0, sizeHint+len(ns)+8)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, ns)
	if snapshot {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return &peersEncoder{buf: b}
}

func (e *peersEncoder) add(kind pb.PeerEvent_Kind, body []byte, reason pb.LeftReason) {
	n := len(body) + protowire.SizeTag(1) + protowire.SizeVarint(uint64(kind))
	if reason != 0 {
		n += protowire.SizeTag(5) + protowire.SizeVarint(uint64(reason))
	}
	e.buf = protowire.AppendTag(e.buf, 3, protowire.BytesType)
	e.buf = protowire.AppendVarint(e.buf, uint64(n))
	e.buf = append(e.buf, body...)
	e.buf = protowire.AppendTag(e.buf, 1, protowire.VarintType)
	e.buf = protowire.AppendVarint(e.buf, uint64(kind))
	if reason != 0 {
		e.buf = protowire.AppendTag(e.buf, 5, protowire.VarintType)
		e.buf = protowire.AppendVarint(e.buf, uint64(reason))
	}
	e.n++
}

// size is the encoded ServerMessage size so far.
func (e *peersEncoder) size() int {
	return protowire.SizeTag(2) + protowire.SizeBytes(len(e.buf))
}

// frame returns the length-prefixed ServerMessage{peers}.
func (e *peersEncoder) frame() []byte {
	msgLen := e.size()
	out := make([]byte, 0, msgLen+binary.MaxVarintLen32)
	out = binary.AppendUvarint(out, uint64(msgLen))
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	out = protowire.AppendBytes(out, e.buf)
	return out
}

func uvarint(b []byte) (uint64, int) { return binary.Uvarint(b) }
