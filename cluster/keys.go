package cluster

import (
	"encoding/base64"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Keys of the bucket. Every hold is its own key, so a node writes only keys
// it owns (no compare-and-swap between nodes) and a dead node's keys go with
// one filtered purge of its prefix:
//
//	t.<ns>.<peer>              a rendezvous TTL hold, cluster-wide
//	i.<inst>.r.<ns>.<peer>     a rendezvous TTL hold bound to node instance inst
//	i.<inst>.l.<ns>.<peer>     a live hold of node instance inst
//	n.<inst>                   node instance inst's lease
//
// Namespaces are arbitrary UTF-8, so they are base64url-encoded (no padding),
// which keeps to the key alphabet and never contains a dot; peer IDs and
// instance IDs are base58 and base32, which never do either.
const (
	prefixTTL   = "t"
	prefixInst  = "i"
	prefixLease = "n"
	kindBound   = "r"
	kindLive    = "l"
)

type keyKind uint8

const (
	keyInvalid keyKind = iota
	keyTTL             // t.
	keyBound           // i.<inst>.r.
	keyLive            // i.<inst>.l.
	keyLease           // n.
)

// memberKey names one member: one peer in one namespace.
type memberKey struct {
	ns   string
	peer peer.ID
}

func encodeNS(ns string) string { return base64.RawURLEncoding.EncodeToString([]byte(ns)) }

func ttlKey(m memberKey) string {
	return prefixTTL + "." + encodeNS(m.ns) + "." + m.peer.String()
}

func instKey(inst string, live bool, m memberKey) string {
	kind := kindBound
	if live {
		kind = kindLive
	}
	return prefixInst + "." + inst + "." + kind + "." + encodeNS(m.ns) + "." + m.peer.String()
}

func leaseKey(inst string) string { return prefixLease + "." + inst }

// instFilter matches every hold key of node instance inst.
func instFilter(inst string) string { return prefixInst + "." + inst + ".>" }

// parsedKey is a key taken apart; inst is empty for t. keys.
type parsedKey struct {
	kind   keyKind
	inst   string
	member memberKey
}

// parseKey takes a bucket key apart; anything it does not recognise (written
// by something else) has kind keyInvalid and is ignored.
func parseKey(key string) parsedKey {
	parts := strings.Split(key, ".")
	var k parsedKey
	var nsPart, peerPart string
	switch {
	case len(parts) == 3 && parts[0] == prefixTTL:
		k.kind, nsPart, peerPart = keyTTL, parts[1], parts[2]
	case len(parts) == 5 && parts[0] == prefixInst && parts[2] == kindBound:
		k.kind, k.inst, nsPart, peerPart = keyBound, parts[1], parts[3], parts[4]
	case len(parts) == 5 && parts[0] == prefixInst && parts[2] == kindLive:
		k.kind, k.inst, nsPart, peerPart = keyLive, parts[1], parts[3], parts[4]
	case len(parts) == 2 && parts[0] == prefixLease && validInstance(parts[1]):
		return parsedKey{kind: keyLease, inst: parts[1]}
	default:
		return parsedKey{}
	}
	if k.kind != keyTTL && !validInstance(k.inst) {
		return parsedKey{}
	}
	ns, err := base64.RawURLEncoding.DecodeString(nsPart)
	if err != nil || len(ns) == 0 {
		return parsedKey{}
	}
	p, err := peer.Decode(peerPart)
	if err != nil {
		return parsedKey{}
	}
	k.member = memberKey{ns: string(ns), peer: p}
	// One key per hold: a non-canonical spelling of the same member (other
	// base58 or base64 forms) is someone else's key.
	if encodeNS(k.member.ns) != nsPart || p.String() != peerPart {
		return parsedKey{}
	}
	return k
}

// validInstance accepts what newInstanceID makes: lower-case base32.
func validInstance(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
