// Package registry is the single source of truth for who is in which
// namespace. Both discovery protocols (/rendezvous/1.0.0 and /ws-star/1.0.0)
// read and write it. It needs no network: it reads the clock through package
// time (so tests drive it with testing/synctest), and membership changes are
// published as events.
//
// Registry is an interface so that a shared backend can let several nodes
// serve one namespace space; Memory is the in-process implementation, and
// also the local copy such a backend reads from (see Memory.Apply).
package registry

import (
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/limits"
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
//
// A member can be held by two sources at once: a rendezvous TTL hold and a live
// hold. It stays a member while either exists. Registrations returned by the
// registry describe the holds: Source is SourceLive while a live hold exists
// (the member then outlives Expiry), SourceRendezvous otherwise; Expiry is the
// TTL hold's expiry, zero when there is none.
type Registration struct {
	Namespace string
	Peer      peer.ID
	Addrs     []ma.Multiaddr
	// Envelope is the signed peer record exactly as received (nil if none).
	Envelope []byte
	Format   RecordFormat
	// Source names the hold a Register call adds or refreshes.
	Source Source
	// NodeBound marks a SourceRendezvous hold that is useful only while this
	// node serves the peer (every address is a circuit through it). The
	// in-memory registry ignores it; a shared backend drops such a hold
	// with the node that took it.
	NodeBound bool
	// Expiry is the absolute expiry of the TTL hold; Register requires it in
	// the future for SourceRendezvous and ignores it for SourceLive.
	Expiry time.Time
	// Seq is assigned by the registry each time the registration is added or
	// refreshed. One counter serves all namespaces, so Seq is strictly
	// increasing both within a namespace and across them, and DISCOVER cookies
	// (with or without a namespace) are cursors over it. The counter starts at
	// the wall clock in nanoseconds, so cursors issued before a restart still
	// page correctly (they see everything registered since).
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
	// ErrInvalidPeer: the peer ID is empty or malformed.
	ErrInvalidPeer = errors.New("registry: invalid peer ID")
	// ErrInvalidSource: Source is neither SourceRendezvous nor SourceLive.
	ErrInvalidSource = errors.New("registry: invalid source")
	// ErrInvalidExpiry: a rendezvous hold without an expiry in the future.
	ErrInvalidExpiry = errors.New("registry: invalid expiry")
)

// Registry is the namespace store. Implementations are safe for concurrent use.
type Registry interface {
	// Register adds or refreshes r.Source's hold on r.Peer's membership of
	// r.Namespace, replaces the addresses and record (newest wins), and returns
	// the registration as stored (with Seq set). A hold from one source never
	// drops the other's.
	Register(r Registration) (Registration, error)
	// Unregister drops src's hold on p's membership of ns; p leaves (with
	// reason) when no hold remains. It reports whether such a hold existed.
	Unregister(ns string, p peer.ID, src Source, reason LeftReason) bool
	// Get returns p's registration in ns.
	Get(ns string, p peer.ID) (Registration, bool)
	// Discover returns up to limit registrations of ns (all namespaces when ns
	// is "") with Seq > after, in Seq order, and the cursor to continue from.
	// A limit <= 0 returns nothing: callers apply their own default.
	Discover(ns string, after uint64, limit int) (regs []Registration, next uint64)
	// Members returns the number of members of ns.
	Members(ns string) int
	// Random returns up to n registrations of ns chosen uniformly at random,
	// leaving out those for which skip returns true (skip may be nil). Its cost
	// grows with n and the number skipped, not with the namespace size.
	Random(ns string, n int, skip func(peer.ID) bool) []Registration
	// Subscribe delivers every event of ns (of all namespaces when ns is "")
	// to fn, in order, starting with no replay. fn must not block and must not
	// call into the registry; see the implementation for where it runs. The
	// returned func cancels the subscription and may be called from fn.
	Subscribe(ns string, fn func(Event)) (cancel func())
	// Close stops expiry and drops subscribers; it is idempotent.
	Close() error
}

// LimitOf names the limit behind a Register error (see internal/limits), ""
// when err is not a refusal by a limit.
func LimitOf(err error) string {
	switch {
	case errors.Is(err, ErrTooManyForPeer):
		return limits.RegistrationsPerPeer
	case errors.Is(err, ErrFull):
		return limits.Registrations
	case errors.Is(err, ErrTooManyNamespaces):
		return limits.Namespaces
	case errors.Is(err, ErrNamespaceNotAllowed):
		return limits.NamespacePrefixes
	case errors.Is(err, ErrNamespaceFull):
		return limits.NamespaceMembers
	}
	return ""
}
