package registry

import (
	"math"
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/setting"
)

// MaxNamespaceLen is the rendezvous spec's bound on a namespace, in bytes; the
// live protocol and the namespace policy use it too.
const MaxNamespaceLen = 255

// Limits bound what the registry holds: the "registry" section of the node's
// configuration file (docs/config.md), whose JSON keys the tags give.
type Limits struct {
	// MaxRegistrationsPerPeer caps the namespaces one peer is a member of.
	MaxRegistrationsPerPeer int `json:"max_registrations_per_peer"`
	// MaxRegistrations caps the members over all namespaces.
	MaxRegistrations int `json:"max_registrations"`
	// MaxNamespaces caps the namespaces with at least one member.
	MaxNamespaces int `json:"max_namespaces"`
	// MaxAddrsPerRecord caps the addresses of one registration.
	MaxAddrsPerRecord int `json:"max_addrs_per_record"`
	// MaxRecordSize caps the signed envelope, in bytes.
	MaxRecordSize int `json:"max_record_size"`
}

// DefaultLimits suits one node with a few GiB of memory: 100,000 members cost
// well under 100 MiB (see BenchmarkMemoryPerRegistration).
func DefaultLimits() Limits {
	return Limits{
		// rust-libp2p's server also allows 32; the spec's 1000 is a DoS vector.
		MaxRegistrationsPerPeer: 32,
		MaxRegistrations:        100_000,
		MaxNamespaces:           10_000,
		MaxAddrsPerRecord:       32,
		MaxRecordSize:           4096,
	}
}

// Validate reports every field out of its bounds, as setting.Problems whose
// paths are the JSON keys.
func (l Limits) Validate() error {
	var ps setting.Problems
	// The spec allows 1000 registrations per peer; more only feeds a spammer.
	ps.IntRange("max_registrations_per_peer", l.MaxRegistrationsPerPeer, 1, 1000)
	ps.IntRange("max_registrations", l.MaxRegistrations, 1, math.MaxInt32)
	ps.IntRange("max_namespaces", l.MaxNamespaces, 1, math.MaxInt32)
	ps.IntRange("max_addrs_per_record", l.MaxAddrsPerRecord, 1, 1000)
	// A signed peer record with an Ed25519 key and one address is about 150
	// bytes; 64 KiB is far beyond any honest record.
	ps.IntRange("max_record_size", l.MaxRecordSize, 256, 64<<10)
	return ps.Err()
}

// ValidNamespace reports whether ns is acceptable: non-empty, at most
// MaxNamespaceLen bytes and valid UTF-8. Protocols may call it before doing
// any work for a request.
func ValidNamespace(ns string) bool {
	return ns != "" && len(ns) <= MaxNamespaceLen && utf8.ValidString(ns)
}

// check validates everything about r that needs no registry state.
func (l Limits) check(r *Registration, p Policy) error {
	if err := p.Check(r.Namespace); err != nil {
		return err
	}
	if r.Peer.Validate() != nil {
		return ErrInvalidPeer
	}
	if r.Source != SourceRendezvous && r.Source != SourceLive {
		return ErrInvalidSource
	}
	if len(r.Addrs) == 0 {
		return ErrNoAddrs
	}
	if len(r.Addrs) > l.MaxAddrsPerRecord {
		return ErrTooManyAddrs
	}
	if len(r.Envelope) > l.MaxRecordSize {
		return ErrRecordTooLarge
	}
	return nil
}

func equalAddrs(a, b []ma.Multiaddr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
