package wsstar

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	idpb "github.com/libp2p/go-libp2p/p2p/protocol/identify/pb"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/registry"
)

func delimited(t testing.TB, msgs ...*idpb.Identify) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

// A js-libp2p browser peer: identified on connect with no address (so no
// record), then it reserves a relay slot and announces without an identify
// push. The node asks identify again and lists the member with its record.
func TestAnnouncedPeerIdentifiedWithoutRecordGetsOneAfterAnnouncing(t *testing.T) {
	n := newNode(t, nil)
	w, _ := n.dial(t)
	join(t, w, "ns", false, 0)

	hc := testhost.NewClient(t)
	testhost.Connect(t, hc, n.h)
	ids, ok := n.h.(interface{ IDService() identify.IDService })
	if !ok {
		t.Fatalf("%T has no identify service", n.h)
	}
	for _, c := range n.h.Network().ConnsToPeer(hc.ID()) {
		<-ids.IDService().IdentifyWait(c)
	}
	n.svc.mu.Lock()
	_, had := n.svc.records[hc.ID()]
	n.svc.mu.Unlock()
	if had {
		t.Fatal("the node holds a record from the first identify of a peer without addresses")
	}

	// From now on the peer answers identify with a record of its circuit
	// address, as js-libp2p does once it holds a reservation.
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + n.h.ID().String() + "/p2p-circuit")
	env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: hc.ID(), Addrs: []ma.Multiaddr{circuit}}), hc.Peerstore().PrivKey(hc.ID()))
	if err != nil {
		t.Fatal(err)
	}
	envBytes, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	answer := delimited(t, &idpb.Identify{ListenAddrs: [][]byte{circuit.Bytes()}, SignedPeerRecord: envBytes})
	hc.SetStreamHandler(identify.ID, func(s network.Stream) {
		defer s.Close()
		_, _ = s.Write(answer)
	})

	a := n.dialFrom(t, hc, 64)
	join(t, a, "ns", true, 0)
	// The watcher learns the member, then (or at once) its record.
	for {
		e := expectEvent(t, w, hc.ID())
		if len(e.SignedPeerRecord) == 0 {
			continue
		}
		if !bytes.Equal(e.SignedPeerRecord, envBytes) {
			t.Fatal("the member's record is not the one the peer answered with")
		}
		break
	}
	regs, _ := n.reg.Discover("ns", 0, 10)
	found := false
	for _, r := range regs {
		if r.Peer == hc.ID() {
			found = r.Source == registry.SourceLive && bytes.Equal(r.Envelope, envBytes)
		}
	}
	if !found {
		t.Fatalf("DISCOVER %+v lacks the live member with its record", regs)
	}
}

func FuzzReadSignedRecord(f *testing.F) {
	f.Add(delimited(f, &idpb.Identify{SignedPeerRecord: []byte("record")}))
	f.Add(delimited(f, &idpb.Identify{AgentVersion: proto.String("js")}, &idpb.Identify{SignedPeerRecord: []byte("r")}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := readSignedRecord(bytes.NewReader(b))
		if err != nil && rec != nil {
			t.Fatal("a record with an error")
		}
		if len(rec) > maxIdentifyMessage {
			t.Fatalf("record of %d bytes", len(rec))
		}
	})
}
