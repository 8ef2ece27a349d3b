package rendezvous

import "time"

const (
	// MaxMessageSize bounds an inbound frame. A REGISTER carries one signed
	// peer record, a DISCOVER a cookie; neither needs more.
	MaxMessageSize = 64 << 10

	// maxResponseSize bounds an outbound DISCOVER_RESPONSE. rust-libp2p's
	// codec refuses frames above 1 MiB, so a page stops short of it and the
	// cookie lets the client fetch the rest.
	maxResponseSize = 1<<20 - 4<<10

	// MaxNamespaceLen is the spec's namespace limit in bytes.
	MaxNamespaceLen = 255

	// cursorLen is the fixed prefix of a cookie: the registry cursor.
	cursorLen = 8

	// maxCookieLen is the longest cookie we hand out and accept.
	maxCookieLen = cursorLen + MaxNamespaceLen

	// maxDiscoverRounds bounds the registry pages read to fill one DISCOVER
	// when registrations in the other record format are skipped.
	maxDiscoverRounds = 4

	// maxBoundPerPeer is the size of a peer's set of presence-bound
	// namespaces above which expired ones are pruned from it.
	maxBoundPerPeer = 64

	// overflowReadTimeout is how long a stream over the per-peer limit may
	// take to send the request that gets its E_UNAVAILABLE.
	overflowReadTimeout = 5 * time.Second
)

// Defaults of the options.
const (
	DefaultMinTTL            = 60 * time.Second
	DefaultTTL               = 2 * time.Hour
	DefaultMaxTTL            = 72 * time.Hour
	DefaultDiscoverLimit     = 100
	DefaultMaxDiscoverLimit  = 1000
	DefaultRequestRate       = 10.0
	DefaultRequestBurst      = 20
	DefaultPresenceGrace     = 30 * time.Second
	DefaultStreamTimeout     = 30 * time.Second
	DefaultMaxStreamsPerPeer = 8
	DefaultMaxTrackedPeers   = 1 << 16
	// DefaultMaxRegistrationsPerSource: eight peers' worth of
	// registry.max_registrations_per_peer from one address.
	DefaultMaxRegistrationsPerSource = 256
)
