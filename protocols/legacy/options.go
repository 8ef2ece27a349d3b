package legacy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/registry"
)

// DefaultNamespace is the registry namespace of the old clients' peers.
const DefaultNamespace = "ws-star-legacy"

// config is what New runs with: the defaults, then the options in order.
type config struct {
	lim        Limits
	namespace  string
	policy     registry.Policy
	deny       DenyList
	registerer prometheus.Registerer
	logger     *slog.Logger
	limits     limits.Observer
}

func defaults() config {
	return config{
		lim:       DefaultLimits(),
		namespace: DefaultNamespace,
		deny:      denyNothing{},
		logger:    slog.Default(),
		limits:    limits.Nop{},
	}
}

// Option configures a Service. An option that cannot be applied makes New
// fail with an error starting "legacy: ".
type Option func(*config) error

// WithLimits replaces DefaultLimits; l must pass Limits.Validate.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("legacy: invalid limits: %w", err)
		}
		c.lim = l
		return nil
	}
}

// WithNamespace sets the registry namespace the old clients' peers are
// members of (default DefaultNamespace).
func WithNamespace(ns string) Option {
	return func(c *config) error {
		if ns == "" {
			return errors.New("legacy: empty namespace")
		}
		c.namespace = ns
		return nil
	}
}

// WithPolicy is the namespace policy: the namespace must be one it allows.
func WithPolicy(p registry.Policy) Option {
	return func(c *config) error { c.policy = p; return nil }
}

// DenyList is the node's deny list, as the service checks it.
type DenyList interface {
	Denied(p peer.ID) bool
	DeniedIP(ip netip.Addr) bool
}

type denyNothing struct{}

func (denyNothing) Denied(peer.ID) bool      { return false }
func (denyNothing) DeniedIP(netip.Addr) bool { return false }

// WithDenyList sets the node's deny list: a socket from a denied address is
// refused, a denied peer cannot join, and a socket that becomes denied (a ban
// added while it is open) is closed within denySweepEvery, or at once by
// CloseDenied. Default: nobody is denied.
func WithDenyList(d DenyList) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("legacy: nil deny list")
		}
		c.deny = d
		return nil
	}
}

// WithLimitObserver is told of every registration a registry limit refused,
// by the name of the limit (see internal/limits).
func WithLimitObserver(o limits.Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("legacy: nil limit observer")
		}
		c.limits = o
		return nil
	}
}

// WithRegisterer registers the service's metrics on r, and Close removes
// them. Default, or a nil r: no metrics are registered.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) error { c.registerer = r; return nil }
}

// WithLogger sets the logger. Default: slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("legacy: nil logger")
		}
		c.logger = l
		return nil
	}
}
