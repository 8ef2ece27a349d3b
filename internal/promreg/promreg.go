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
