package cluster

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

func TestValueRoundTripsAddressesRecordFormatAndExpiry(t *testing.T) {
	v := value{
		addrs:    []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws"), ma.StringCast("/dns4/example.com/tcp/443/wss")},
		envelope: []byte("envelope"),
		format:   registry.FormatRoutingState,
		expiry:   time.UnixMilli(1_800_000_000_123),
	}
	got, err := decodeValue(encodeValue(v))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.addrs) != 2 || !got.addrs[1].Equal(v.addrs[1]) || !bytes.Equal(got.envelope, v.envelope) ||
		got.format != v.format || !got.expiry.Equal(v.expiry) {
		t.Fatalf("round trip: %+v, want %+v", got, v)
	}
	live, err := decodeValue(encodeValue(value{addrs: v.addrs[:1]}))
	if err != nil || !live.expiry.IsZero() || live.envelope != nil {
		t.Fatalf("live value: %+v %v", live, err)
	}
}

func TestDecodeValueRefusesTruncatedOversizedAndUnknownInput(t *testing.T) {
	good := encodeValue(value{addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws")}, envelope: []byte("e")})
	for name, b := range map[string][]byte{
		"empty":            nil,
		"other version":    append([]byte{9}, good[1:]...),
		"unknown format":   append([]byte{valueVersion, 7}, good[2:]...),
		"truncated":        good[:len(good)-1],
		"trailing bytes":   append(append([]byte{}, good...), 0),
		"address count":    {valueVersion, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"oversized":        append([]byte{valueVersion, 0}, make([]byte, maxValueSize)...),
		"bad multiaddr":    {valueVersion, 0, 0, 1, 2, 0xff, 0xff, 0},
		"expiry too large": {valueVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0},
	} {
		if _, err := decodeValue(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeysRoundTripAnyUTF8NamespaceAndRejectForeignKeys(t *testing.T) {
	p := mustPeer(t)
	for _, ns := range []string{"room", "a.b.c", "with space/ünïcode ✓", strings.Repeat("x", 255)} {
		mk := memberKey{ns: ns, peer: p}
		for _, k := range []struct {
			key  string
			kind keyKind
		}{{ttlKey(mk), keyTTL}, {instKey("abc234", true, mk), keyLive}, {instKey("abc234", false, mk), keyBound}} {
			got := parseKey(k.key)
			if got.kind != k.kind || got.member != mk {
				t.Fatalf("parseKey(%q) = %+v", k.key, got)
			}
		}
	}
	if k := parseKey(leaseKey("abc234")); k.kind != keyLease || k.inst != "abc234" {
		t.Fatalf("lease key: %+v", k)
	}
	for _, foreign := range []string{"", "x", "t.cm9vbQ", "t.cm9vbQ.notapeer", "i.UPPER.l.cm9vbQ." + p.String(), "n.UP", "t..peer"} {
		if k := parseKey(foreign); k.kind != keyInvalid {
			t.Errorf("parseKey(%q) = %+v, want invalid", foreign, k)
		}
	}
}

func mustPeer(t testing.TB) peer.ID {
	t.Helper()
	return member(t, "x", registry.SourceLive, 0).Peer
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(encodeValue(value{addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws")}, envelope: []byte("e"), expiry: time.UnixMilli(1)}))
	f.Add([]byte{valueVersion, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeValue(b)
		if err != nil {
			return
		}
		// What decodes survives a round trip unchanged.
		again, err := decodeValue(encodeValue(v))
		if err != nil || len(again.addrs) != len(v.addrs) || !bytes.Equal(again.envelope, v.envelope) ||
			again.format != v.format || !again.expiry.Equal(v.expiry) {
			t.Fatalf("%x decoded to %+v, which round-trips to %+v (%v)", b, v, again, err)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("t.cm9vbQ.12D3KooWAaE5ATQhi8N772UNX3dDt8CHTaYad7aoP4fSaKciQpog")
	f.Add("i.abc234.l.cm9vbQ.12D3KooWAaE5ATQhi8N772UNX3dDt8CHTaYad7aoP4fSaKciQpog")
	f.Add("n.abc234")
	f.Fuzz(func(t *testing.T, key string) {
		k := parseKey(key)
		switch k.kind {
		case keyTTL:
			if ttlKey(k.member) != key {
				t.Fatalf("%q parsed to %+v, which names %q", key, k, ttlKey(k.member))
			}
		case keyLive, keyBound:
			if instKey(k.inst, k.kind == keyLive, k.member) != key {
				t.Fatalf("%q parsed to %+v", key, k)
			}
		}
	})
}
