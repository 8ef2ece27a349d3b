package pubsub

import (
	"bytes"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/protocols/pubsub/pb"
)

func TestAnnouncementRoundTrips(t *testing.T) {
	id := newPeerID(t)
	key, _ := id.ExtractPublicKey()
	addrs := []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws"), ma.StringCast("/dns4/example.com/tcp/443/wss")}
	data, err := encodeAnnouncement(key, addrs)
	if err != nil {
		t.Fatal(err)
	}
	a, err := decodeAnnouncement(data, DefaultMaxAnnouncementSize, DefaultMaxAddrs)
	if err != nil {
		t.Fatal(err)
	}
	if a.id != id || len(a.addrs) != 2 || !a.addrs[1].Equal(addrs[1]) {
		t.Errorf("decoded %v %v", a.id, a.addrs)
	}
}

func TestAnnouncementsOutsideTheLimitsAreJunk(t *testing.T) {
	id := newPeerID(t)
	key, _ := id.ExtractPublicKey()
	kb, _ := crypto.MarshalPublicKey(key)
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws").Bytes()
	enc := func(m *pb.Peer) []byte { b, _ := proto.Marshal(m); return b }
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"too large", bytes.Repeat([]byte{0}, DefaultMaxAnnouncementSize+1), errTooLarge},
		{"not protobuf", []byte{0xff, 0xff, 0xff}, errNotPeer},
		{"no key", enc(&pb.Peer{Addrs: [][]byte{addr}}), errBadKey},
		{"bad key", enc(&pb.Peer{PublicKey: []byte("nope"), Addrs: [][]byte{addr}}), errBadKey},
		{"too many addrs", enc(&pb.Peer{PublicKey: kb, Addrs: bytes.SplitAfterN(bytes.Repeat(addr, DefaultMaxAddrs+1), addr, -1)[:DefaultMaxAddrs+1]}), errTooManyAddrs},
		{"bad addr", enc(&pb.Peer{PublicKey: kb, Addrs: [][]byte{{0xff, 0x01}}}), errBadAddr},
	}
	for _, c := range cases {
		if _, err := decodeAnnouncement(c.data, DefaultMaxAnnouncementSize, DefaultMaxAddrs); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzDecodeAnnouncement(f *testing.F) {
	_, pub, _ := crypto.GenerateEd25519Key(nil)
	good, _ := encodeAnnouncement(pub, []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws")})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeAnnouncement(data, DefaultMaxAnnouncementSize, DefaultMaxAddrs)
		if err != nil {
			return
		}
		if len(data) > DefaultMaxAnnouncementSize || len(a.addrs) > DefaultMaxAddrs || a.id == "" {
			t.Fatalf("accepted outside the limits: %d bytes, %d addrs, id %q", len(data), len(a.addrs), a.id)
		}
	})
}
