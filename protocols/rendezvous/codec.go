package rendezvous

import (
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
)

var (
	// ErrMessageTooLarge means a frame announced more than the allowed size.
	// Nothing of it is read or allocated.
	ErrMessageTooLarge = framing.ErrTooLarge
)

// readFrame reads one length-prefixed frame of at most max bytes; see
// framing.Read.
func readFrame(r framing.Reader, max int) ([]byte, error) {
	return framing.Read(r, max)
}

// appendFrame appends m to b as one length-prefixed frame.
func appendFrame(b []byte, m *pb.Message) ([]byte, error) {
	size := proto.Size(m)
	b = protowire.AppendVarint(b, uint64(size))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
}

// writeMsg writes m as one frame in a single Write, so that a frame is never
// interleaved with another writer's or split across deadline expiry.
func writeMsg(w io.Writer, m *pb.Message) error {
	b, err := appendFrame(nil, m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// decodeMessage decodes one frame payload; see peekType for undecodable ones.
func decodeMessage(b []byte) (*pb.Message, error) {
	m := new(pb.Message)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// peekType guesses the type of an undecodable message from its top-level
// fields: an explicit type field wins, then which sub-message is present.
// ok is false when nothing usable is found.
func peekType(b []byte) (t pb.Message_MessageType, ok bool) {
	var sawRegister, sawDiscover, sawUnregister bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				break
			}
			return pb.Message_MessageType(v), true
		}
		switch num {
		case 2:
			sawRegister = true
		case 4:
			sawUnregister = true
		case 5:
			sawDiscover = true
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			break
		}
		b = b[m:]
	}
	switch {
	case sawRegister:
		return pb.Message_REGISTER, true
	case sawDiscover:
		return pb.Message_DISCOVER, true
	case sawUnregister:
		return pb.Message_UNREGISTER, true
	}
	return 0, false
}

// requestType returns the type of a decoded request. A missing type field
// means REGISTER in proto2 (js encoders omit the zero value), but when only
// another sub-message is present, that one is what the sender meant.
func requestType(m *pb.Message) pb.Message_MessageType {
	if m.Type != nil {
		return m.GetType()
	}
	switch {
	case m.Register != nil:
		return pb.Message_REGISTER
	case m.Discover != nil:
		return pb.Message_DISCOVER
	case m.Unregister != nil:
		return pb.Message_UNREGISTER
	}
	return pb.Message_REGISTER
}
