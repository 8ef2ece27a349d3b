package rendezvous

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
)

func frame(t testing.TB, m *pb.Message) []byte {
	t.Helper()
	b, err := appendFrame(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFramesRoundTrip(t *testing.T) {
	ns := "chat"
	in := &pb.Message{Type: pb.Message_DISCOVER.Enum(), Discover: &pb.Message_Discover{Ns: &ns}}
	var buf bytes.Buffer
	buf.Write(frame(t, in))
	buf.Write(frame(t, in))
	r := bufio.NewReader(&buf)
	for i := 0; i < 2; i++ {
		b, err := readFrame(r, MaxMessageSize)
		if err != nil {
			t.Fatal(err)
		}
		out, err := decodeMessage(b)
		if err != nil || !proto.Equal(in, out) {
			t.Fatalf("frame %d: got %v, %v", i, out, err)
		}
	}
	if _, err := readFrame(r, MaxMessageSize); err != io.EOF {
		t.Fatalf("after last frame: err = %v, want io.EOF", err)
	}
}

func TestReadFrameReportsTruncationAsUnexpectedEOF(t *testing.T) {
	for name, b := range map[string][]byte{
		"cut prefix":  {0x80},
		"cut payload": {5, 1, 2},
	} {
		if _, err := readFrame(bytes.NewReader(b), MaxMessageSize); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: err = %v, want io.ErrUnexpectedEOF", name, err)
		}
	}
}

func TestReadFrameRejectsNonMinimalAndOverlongPrefixes(t *testing.T) {
	for name, b := range map[string][]byte{
		"non-minimal": {0x81, 0x00},
		"overlong":    bytes.Repeat([]byte{0x80}, 11),
	} {
		if _, err := readFrame(bytes.NewReader(b), 1<<62); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// endless yields zeros forever, a frame body that never ends, and counts
// what was read of it.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) { clear(p); e.read += len(p); return len(p), nil }

func TestOversizeFrameIsRefusedBeforeAllocation(t *testing.T) {
	prefix := protowire.AppendVarint(nil, 1<<30)
	body := new(endless)
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(prefix), body))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readFrame(r, MaxMessageSize)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err = %v, want ErrMessageTooLarge", err)
	}
	// Reading the announced GiB would show in TotalAlloc; the refusal costs
	// only the error value.
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("allocated %d bytes refusing an over-size frame", got)
	}
	if body.read != 0 {
		t.Fatalf("read %d bytes of the over-size body", body.read)
	}
}

func TestPeekTypeTellsRequestOfUndecodableMessage(t *testing.T) {
	reg := protowire.AppendTag(nil, 2, protowire.BytesType)
	reg = protowire.AppendBytes(reg, []byte{0xff, 0xff}) // broken sub-message
	if tp, ok := peekType(reg); !ok || tp != pb.Message_REGISTER {
		t.Fatalf("peekType(broken register) = %v, %v", tp, ok)
	}
	typed := protowire.AppendTag(nil, 1, protowire.VarintType)
	typed = protowire.AppendVarint(typed, uint64(pb.Message_DISCOVER))
	typed = append(typed, 0xff) // trailing garbage
	if tp, ok := peekType(typed); !ok || tp != pb.Message_DISCOVER {
		t.Fatalf("peekType(typed discover) = %v, %v", tp, ok)
	}
	if _, ok := peekType([]byte{0xff, 0xff, 0xff}); ok {
		t.Fatal("peekType found a type in garbage")
	}
}

func TestRequestTypeDefaultsToRegisterAndInfersFromSubMessage(t *testing.T) {
	for want, m := range map[pb.Message_MessageType]*pb.Message{
		pb.Message_REGISTER:   {Register: &pb.Message_Register{}},
		pb.Message_DISCOVER:   {Discover: &pb.Message_Discover{}},
		pb.Message_UNREGISTER: {Unregister: &pb.Message_Unregister{}},
	} {
		if got := requestType(m); got != want {
			t.Errorf("requestType(%v) = %v, want %v", m, got, want)
		}
	}
	if got := requestType(&pb.Message{}); got != pb.Message_REGISTER {
		t.Errorf("requestType(empty) = %v, want REGISTER (proto2 default)", got)
	}
	explicit := &pb.Message{Type: pb.Message_DISCOVER.Enum(), Register: &pb.Message_Register{}}
	if got := requestType(explicit); got != pb.Message_DISCOVER {
		t.Errorf("explicit type overridden: %v", got)
	}
}

// FuzzReadMessage drives the whole inbound path short of the network: frame
// reader, protobuf decoder, type guessing and the signed record check.
func FuzzReadMessage(f *testing.F) {
	ns := "chat"
	f.Add(frame(f, &pb.Message{Type: pb.Message_DISCOVER.Enum(), Discover: &pb.Message_Discover{Ns: &ns, Cookie: EncodeCookie(1, ns)}}))
	f.Add(frame(f, &pb.Message{Register: &pb.Message_Register{Ns: &ns, SignedPeerRecord: []byte{1, 2, 3}}}))
	f.Add(frame(f, &pb.Message{Type: pb.Message_UNREGISTER.Enum(), Unregister: &pb.Message_Unregister{Ns: &ns}}))
	f.Add(protowire.AppendVarint(nil, 1<<40))
	f.Add([]byte{0x03, 0x12, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			p, err := readFrame(r, MaxMessageSize)
			if err != nil {
				return
			}
			if len(p) > MaxMessageSize {
				t.Fatalf("frame of %d bytes passed the limit", len(p))
			}
			m, err := decodeMessage(p)
			if err != nil {
				peekType(p)
				continue
			}
			requestType(m)
			if rec := m.GetRegister().GetSignedPeerRecord(); len(rec) > 0 {
				_, _ = verifyRecord(rec)
			}
			if c := m.GetDiscover().GetCookie(); len(c) > 0 {
				_, _, _ = ParseCookie(c)
			}
		}
	})
}
