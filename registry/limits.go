package registry

import (
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"
)

// Limits bound what the registry holds. Every field must be positive; a zero
// (or negative) field takes its default from DefaultLimits.
type Limits struct {
	// MaxRegistrationsPerPeer caps the namespaces one peer is a member of.
	MaxRegistrationsPerPeer int
	// MaxRegistrations caps the members over all namespaces.
	MaxRegistrations int
	// MaxNamespaces caps the namespaces with at least one member.
	MaxNamespaces int
	// MaxNamespaceLen is in bytes; the rendezvous spec allows 255.
	MaxNamespaceLen int
	// MaxAddrsPerRecord caps the addresses of one registration.
	MaxAddrsPerRecord int
	// MaxRecordSize caps the signed envelope, in bytes.
	MaxRecordSize int
	// Policy says which namespaces may be used and how many members each
	// may have; the zero Policy allows all, with no cap of its own.
	Policy Policy
}

// DefaultLimits suits one node with a few GiB of memory: 100,000 members cost
// well under 100 MiB (see BenchmarkMemoryPerRegistration).
func DefaultLimits() Limits {
	return Limits{
		// rust-libp2p's server also allows 32; the spec's 1000 is a DoS vector.
		MaxRegistrationsPerPeer: 32,
		MaxRegistrations:        100_000,
		MaxNamespaces:           10_000,
		MaxNamespaceLen:         255,
		MaxAddrsPerRecord:       32,
		MaxRecordSize:           4096,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.MaxRegistrationsPerPeer, d.MaxRegistrationsPerPeer)
	fill(&l.MaxRegistrations, d.MaxRegistrations)
	fill(&l.MaxNamespaces, d.MaxNamespaces)
	fill(&l.MaxNamespaceLen, d.MaxNamespaceLen)
	fill(&l.MaxAddrsPerRecord, d.MaxAddrsPerRecord)
	fill(&l.MaxRecordSize, d.MaxRecordSize)
	return l
}

// ValidNamespace reports whether ns is acceptable under l: non-empty, at most
// MaxNamespaceLen bytes and valid UTF-8. Protocols may call it before doing
// any work for a request.
func (l Limits) ValidNamespace(ns string) bool {
	return ns != "" && len(ns) <= l.withDefaults().MaxNamespaceLen && utf8.ValidString(ns)
}

// check validates everything about r that needs no registry state.
func (l Limits) check(r *Registration) error {
	if !l.ValidNamespace(r.Namespace) {
		return ErrInvalidNamespace
	}
	if !l.Policy.Allowed(r.Namespace) {
		return ErrNamespaceNotAllowed
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
