package registry

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a Memory registry.
type Option func(*options)

type options struct {
	limits     Limits
	registerer prometheus.Registerer
	logger     *slog.Logger
	firstSeq   *uint64
}

func defaultOptions() options {
	return options{limits: DefaultLimits(), logger: slog.Default()}
}

// WithLimits replaces DefaultLimits; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(o *options) { o.limits = l.withDefaults() }
}

// WithRegisterer exports the registry's metrics to r. Without it no metrics
// are collected.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) { o.registerer = r }
}

// WithLogger sets the logger; nil keeps slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithFirstSeq starts the Seq counter at seq instead of the wall clock. A
// local copy whose Seq values come from a shared backend (see Memory.Apply)
// uses 0, so that the backend's values, not the clock, order its entries.
func WithFirstSeq(seq uint64) Option {
	return func(o *options) { o.firstSeq = &seq }
}
