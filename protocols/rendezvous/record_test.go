package rendezvous

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func mustSeal(t testing.TB, k crypto.PrivKey, addrs []ma.Multiaddr, f registry.RecordFormat) []byte {
	t.Helper()
	b, err := SealRecord(k, addrs, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var publicAddr = ma.StringCast("/ip4/203.0.113.7/tcp/443/tls/ws")

func TestBothRecordFormatsVerify(t *testing.T) {
	k, id := newKey(t)
	for _, f := range []registry.RecordFormat{registry.FormatPeerRecord, registry.FormatRoutingState} {
		rec, err := verifyRecord(mustSeal(t, k, []ma.Multiaddr{publicAddr}, f))
		if err != nil {
			t.Fatalf("format %d: %v", f, err)
		}
		if rec.Peer != id || rec.Format != f || len(rec.Addrs) != 1 || !rec.Addrs[0].Equal(publicAddr) {
			t.Fatalf("format %d: got %+v", f, rec)
		}
	}
}

func TestRoutingStateRecordIsSignedUnderRustDomain(t *testing.T) {
	k, _ := newKey(t)
	b := mustSeal(t, k, []ma.Multiaddr{publicAddr}, registry.FormatRoutingState)
	// The signature must not verify under the go-libp2p domain: the domain is
	// part of what is signed, which is what keeps the formats apart.
	if _, _, err := record.ConsumeEnvelope(b, peer.PeerRecordEnvelopeDomain); err == nil {
		t.Fatal("routing-state record verified under libp2p-peer-record")
	}
	if _, _, err := record.ConsumeEnvelope(b, RoutingStateDomain); err != nil && !errors.Is(err, record.ErrPayloadTypeNotRegistered) {
		t.Fatalf("routing-state record does not verify under its domain: %v", err)
	}
}

// crossSigned is a peer record of one peer signed by another key.
func crossSigned(t testing.TB, signer crypto.PrivKey, of peer.ID) []byte {
	t.Helper()
	env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: of, Addrs: []ma.Multiaddr{publicAddr}}), signer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRecordRejectsBadRecords(t *testing.T) {
	k, _ := newKey(t)
	_, other := newKey(t)
	good := mustSeal(t, k, []ma.Multiaddr{publicAddr}, registry.FormatPeerRecord)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-1] ^= 1 // last byte is in the signature
	for name, b := range map[string][]byte{
		"garbage":        {1, 2, 3},
		"bad signature":  flipped,
		"no addresses":   mustSeal(t, k, nil, registry.FormatPeerRecord),
		"signer differs": crossSigned(t, k, other),
	} {
		if _, err := verifyRecord(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRelayOnlyNeedsEveryAddressThroughThisRelay(t *testing.T) {
	_, relay := newKey(t)
	_, elsewhere := newKey(t)
	via := func(r peer.ID) ma.Multiaddr {
		return ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + r.String() + "/p2p-circuit")
	}
	for _, tc := range []struct {
		name  string
		addrs []ma.Multiaddr
		want  bool
	}{
		{"none", nil, false},
		{"through us", []ma.Multiaddr{via(relay)}, true},
		{"through us twice", []ma.Multiaddr{via(relay), via(relay).Encapsulate(ma.StringCast("/webrtc"))}, true},
		{"through another relay", []ma.Multiaddr{via(elsewhere)}, false},
		{"also public", []ma.Multiaddr{via(relay), publicAddr}, false},
		{"our id without circuit", []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + relay.String())}, false},
	} {
		if got := relayOnly(tc.addrs, relay); got != tc.want {
			t.Errorf("%s: relayOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzVerifyRecord(f *testing.F) {
	k, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	for _, fm := range []registry.RecordFormat{registry.FormatPeerRecord, registry.FormatRoutingState} {
		b, err := SealRecord(k, []ma.Multiaddr{publicAddr}, fm)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := verifyRecord(b)
		if err == nil && (len(rec.Addrs) == 0 || rec.Peer == "") {
			t.Fatalf("accepted a record without peer or addresses: %+v", rec)
		}
	})
}
