package registry

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a Memory registry. An option that cannot be applied
// makes New fail with an error starting "registry: ".
type Option func(*options) error

type options struct {
	limits     Limits
	policy     Policy
	registerer prometheus.Registerer
	logger     *slog.Logger
	firstSeq   *uint64
}

func defaultOptions() options {
	return options{limits: DefaultLimits(), logger: slog.Default()}
}

// WithLimits replaces DefaultLimits; l must pass Limits.Validate.
func WithLimits(l Limits) Option {
	return func(o *options) error {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("registry: invalid limits: %w", err)
		}
		o.limits = l
		return nil
	}
}

// WithPolicy sets which namespaces may be used and how many members each may
// have. Default: the zero Policy, every namespace with no cap of its own.
func WithPolicy(p Policy) Option {
	return func(o *options) error {
		o.policy = p
		return nil
	}
}

// WithRegisterer exports the registry's metrics to r, and Close removes them.
// Default, or a nil r: no metrics are collected.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) error {
		o.registerer = r
		return nil
	}
}

// WithLogger sets the logger. Default: slog.Default(); a nil l is an error.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("registry: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithFirstSeq starts the Seq counter at seq instead of the wall clock. A
// local copy whose Seq values come from a shared backend (see Memory.Apply)
// uses 0, so that the backend's values, not the clock, order its entries.
func WithFirstSeq(seq uint64) Option {
	return func(o *options) error {
		o.firstSeq = &seq
		return nil
	}
}
