// Package registry is the single source of truth for who is in which
// namespace. Both discovery protocols (/rendezvous/1.0.0 and /ws-star/1.0.0)
// read and write it. It needs no network: time is injected, and membership
// changes are published as events.
//
// Registry is an interface so that a shared backend can later let several nodes
// serve one namespace space; Memory is the in-process implementation.
package registry

import (
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Source tells which protocol created a registration.
type Source uint8

const (
	// SourceRendezvous is a /rendezvous/1.0.0 REGISTER, bounded by a TTL.
	SourceRendezvous Source = iota + 1
	// SourceLive is a /ws-star/1.0.0 announce, held while the stream lives.
	SourceLive
)

// RecordFormat is the envelope domain of a signed peer record.
type RecordFormat uint8

const (
	// FormatNone: no signed record is held.
	FormatNone RecordFormat = iota
	// FormatPeerRecord is domain "libp2p-peer-record", payload type 0x0301
	// (go-libp2p, js-libp2p).
	FormatPeerRecord
	// FormatRoutingState is domain "libp2p-routing-state", payload type
	// "/libp2p/routing-state-record" (rust-libp2p's rendezvous).
	FormatRoutingState
)

// Registration is one peer's membership in one namespace.
type Registration struct {
	Namespace string
	Peer      peer.ID
	Addrs     []ma.Multiaddr
	// Envelope is the signed peer record exactly as received (nil if none).
	Envelope []byte
	Format   RecordFormat
	Source   Source
	// Expiry is the absolute expiry; zero means it lasts until removed.
	Expiry time.Time
	// Seq is assigned by the registry: strictly increasing within a namespace
	// each time the registration is added or replaced. DISCOVER cookies are
	// cursors over it.
	Seq uint64
}

// EventKind is the kind of a membership change.
type EventKind uint8

const (
	Joined EventKind = iota + 1
	Updated
	Left
)

// LeftReason says why a member left.
type LeftReason uint8

const (
	ReasonNone LeftReason = iota
	// ReasonUnregistered: a Leave, a clean stream close or a rendezvous UNREGISTER.
	ReasonUnregistered
	// ReasonDisconnected: a reset stream, a lost connection, a presence drop.
	ReasonDisconnected
	// ReasonExpired: the TTL ran out.
	ReasonExpired
)

// Event is a membership change in one namespace. Reg is the registration as it
// is now (Joined, Updated) or as it was (Left).
type Event struct {
	Kind   EventKind
	Reason LeftReason
	Reg    Registration
}

// Errors returned by Register; protocols map them to their status codes.
var (
	ErrInvalidNamespace  = errors.New("registry: invalid namespace")
	ErrTooManyForPeer    = errors.New("registry: too many registrations for this peer")
	ErrFull              = errors.New("registry: registration limit reached")
	ErrTooManyNamespaces = errors.New("registry: namespace limit reached")
	ErrTooManyAddrs      = errors.New("registry: too many addresses")
	ErrRecordTooLarge    = errors.New("registry: signed record too large")
	ErrNoAddrs           = errors.New("registry: no addresses")
	ErrClosed            = errors.New("registry: closed")
)

// Registry is the namespace store. Implementations are safe for concurrent use.
type Registry interface {
	// Register adds or replaces the registration of r.Peer in r.Namespace and
	// returns it as stored (with Seq set). A registration from one source does
	// not replace a live one from the other: see the implementation's docs.
	Register(r Registration) (Registration, error)
	// Unregister removes p from ns; it reports whether p was a member.
	Unregister(ns string, p peer.ID, src Source, reason LeftReason) bool
	// Get returns p's registration in ns.
	Get(ns string, p peer.ID) (Registration, bool)
	// Discover returns up to limit registrations of ns (all namespaces when ns
	// is "") with Seq > after, in Seq order, and the cursor to continue from.
	Discover(ns string, after uint64, limit int) (regs []Registration, next uint64)
	// Members returns the number of members of ns.
	Members(ns string) int
	// Random returns up to n registrations of ns chosen uniformly at random,
	// leaving out those for which skip returns true (skip may be nil). Its cost
	// grows with n and the number skipped, not with the namespace size.
	Random(ns string, n int, skip func(peer.ID) bool) []Registration
	// Subscribe delivers every event of ns to fn, in order, starting with no
	// replay. fn must not block; it runs on the registry's goroutine or the
	// caller's. The returned func cancels the subscription.
	Subscribe(ns string, fn func(Event)) (cancel func())
	// Close stops expiry and drops subscribers; it is idempotent.
	Close() error
}
