// Package promreg registers a component's Prometheus collectors as one unit,
// so a component that fails to start, or stops, leaves none behind.
package promreg

import "github.com/prometheus/client_golang/prometheus"

// RegisterAll registers every collector with reg, or none: after an error
// the ones already registered are removed again. A nil reg registers nothing.
func RegisterAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			UnregisterAll(reg, cs[:i]...)
			return err
		}
	}
	return nil
}

// UnregisterAll removes the collectors from reg; a nil reg does nothing.
func UnregisterAll(reg prometheus.Registerer, cs ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range cs {
		reg.Unregister(c)
	}
}

// Set is one component's collectors, registered together by Register and
// removed together by Unregister: the one metrics lifecycle of every
// component (registered when it starts, removed when it closes).
type Set struct {
	reg prometheus.Registerer
	cs  []prometheus.Collector
}

// Register registers cs with reg as one Set, or none of them (see
// RegisterAll). A nil reg registers nothing and returns an empty Set.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) (*Set, error) {
	if err := RegisterAll(reg, cs...); err != nil {
		return nil, err
	}
	return &Set{reg: reg, cs: cs}, nil
}

// Unregister removes the collectors; it is idempotent and accepts a nil Set.
func (s *Set) Unregister() {
	if s == nil {
		return
	}
	UnregisterAll(s.reg, s.cs...)
	s.cs = nil
}
