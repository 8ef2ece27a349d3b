package wsstar

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

func TestReadFrameRefusesOversizedPrefixBeforeAllocating(t *testing.T) {
	// A prefix of 1 GiB followed by nothing: must fail on the prefix alone.
	frame := appendFrame(nil, nil)
	frame = append(frame[:0], 0x80, 0x80, 0x80, 0x80, 0x04)
	_, err := readFrame(bufio.NewReader(bytes.NewReader(frame)), MaxClientMessageSize)
	if !errors.Is(err, errMessageTooLarge) {
		t.Fatalf("got %v, want errMessageTooLarge", err)
	}
	// Exactly at the cap is fine.
	ok := appendFrame(nil, make([]byte, MaxClientMessageSize))
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(ok)), MaxClientMessageSize); err != nil {
		t.Fatal(err)
	}
	// A truncated body is not a clean end of input.
	_, err = readFrame(bufio.NewReader(bytes.NewReader(ok[:10])), MaxClientMessageSize)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want ErrUnexpectedEOF", err)
	}
}

func TestHandEncodedPeersDecodeLikeGeneratedCode(t *testing.T) {
	id := randomPeer(t)
	addrs := [][]byte{ma.StringCast("/ip4/1.2.3.4/tcp/1/ws").Bytes(), ma.StringCast("/dns4/a.example/tcp/443/wss").Bytes()}
	body := eventBody([]byte(id), addrs, []byte("record"))
	enc := newPeersEncoder("ns", true, 0)
	enc.add(pb.PeerEvent_JOINED, body, 0)
	enc.add(pb.PeerEvent_LEFT, eventBody([]byte(id), nil, nil), pb.LeftReason_EXPIRED)
	got := decodePeersFrame(t, enc.frame())
	want := &pb.Peers{Ns: "ns", Snapshot: true, Events: []*pb.PeerEvent{
		{Kind: pb.PeerEvent_JOINED, PeerId: []byte(id), Addrs: addrs, SignedPeerRecord: []byte("record")},
		{Kind: pb.PeerEvent_LEFT, PeerId: []byte(id), Reason: pb.LeftReason_EXPIRED},
	}}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if sz := len(enc.frame()); sz != enc.size()+len(binary.AppendUvarint(nil, uint64(enc.size()))) {
		t.Fatalf("frame %d bytes, message %d", sz, enc.size())
	}
}

func TestFullSnapshotOfLargestMembersStaysUnderTheMessageCap(t *testing.T) {
	const maxPeers = DefaultMaxPeers
	lim := registry.DefaultLimits()
	enc := newPeersEncoder(strings.Repeat("n", 255), true, 0)
	for range maxPeers {
		id := randomPeer(t)
		var addrs []ma.Multiaddr
		for range lim.MaxAddrsPerRecord {
			addrs = append(addrs, ma.StringCast("/dns4/"+strings.Repeat("a", 200)+".example/tcp/443/wss/p2p-circuit"))
		}
		m := &member{id: id, reg: registry.Registration{Peer: id, Addrs: addrs, Envelope: make([]byte, lim.MaxRecordSize)}}
		enc.add(pb.PeerEvent_JOINED, encodeMember(m, nil, maxPeers), 0)
	}
	if n := len(enc.frame()); n > MaxServerMessageSize {
		t.Fatalf("snapshot of %d maximal members is %d bytes, over %d", maxPeers, n, MaxServerMessageSize)
	}
}

func FuzzDecodeClientMessage(f *testing.F) {
	for _, m := range []*pb.ClientMessage{
		{Msg: &pb.ClientMessage_Join{Join: &pb.Join{Ns: "chat", Announce: true, MaxPeers: 16}}},
		{Msg: &pb.ClientMessage_Leave{Leave: &pb.Leave{Ns: "chat"}}},
		{},
	} {
		b, _ := proto.Marshal(m)
		f.Add(appendFrame(nil, b))
	}
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x04})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			b, err := readFrame(r, MaxClientMessageSize)
			if err != nil {
				return
			}
			if len(b) > MaxClientMessageSize {
				t.Fatalf("frame of %d bytes accepted", len(b))
			}
			m, err := DecodeClientMessage(b)
			if err != nil {
				continue
			}
			// What decodes re-encodes and decodes to the same message.
			b2, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("decoded message does not marshal: %v", err)
			}
			m2, err := DecodeClientMessage(b2)
			if err != nil || !proto.Equal(m, m2) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

func FuzzDecodeServerMessage(f *testing.F) {
	id := []byte(randomPeer(f))
	body := eventBody(id, [][]byte{testAddr.Bytes()}, nil)
	enc := newPeersEncoder("chat", true, 0)
	enc.add(pb.PeerEvent_JOINED, body, 0)
	f.Add(enc.frame())
	f.Add(ackFrame(&pb.JoinAck{Ns: "chat", MaxPeers: 64, Members: 3}))
	f.Add(closedFrame("chat", pb.Closed_OVERFLOW, "too many pending changes"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			b, err := readFrame(r, MaxServerMessageSize)
			if err != nil {
				return
			}
			m, err := DecodeServerMessage(b)
			if err != nil {
				continue
			}
			if p := m.GetPeers(); p != nil {
				u, err := decodeUpdate(p)
				if err == nil && len(u.Events) != len(p.GetEvents()) {
					t.Fatalf("%d events decoded from %d", len(u.Events), len(p.GetEvents()))
				}
			}
		}
	})
}

func FuzzPeersEncoderMatchesProto(f *testing.F) {
	f.Add("chat", []byte("peer"), []byte("addr"), []byte("rec"), uint8(1), uint8(0), true)
	f.Add("", []byte{}, []byte{}, []byte{}, uint8(3), uint8(2), false)
	f.Fuzz(func(t *testing.T, ns string, id, addr, rec []byte, kind, reason uint8, snapshot bool) {
		if !utf8.ValidString(ns) {
			t.Skip()
		}
		k, r := pb.PeerEvent_Kind(kind%4), pb.LeftReason(reason%4)
		enc := newPeersEncoder(ns, snapshot, 0)
		enc.add(k, eventBody(id, [][]byte{addr}, rec), r)
		enc.add(pb.PeerEvent_LEFT, eventBody(id, nil, nil), r)
		want := &pb.Peers{Ns: ns, Snapshot: snapshot, Events: []*pb.PeerEvent{
			{Kind: k, PeerId: id, Addrs: [][]byte{addr}, SignedPeerRecord: rec, Reason: r},
			{Kind: pb.PeerEvent_LEFT, PeerId: id, Reason: r},
		}}
		if got := decodePeersFrame(t, enc.frame()); !proto.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if enc.size()+binary.MaxVarintLen64 < len(enc.frame()) {
			t.Fatal("size() underestimates the frame")
		}
	})
}
