package rendezvous

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/registry"
)

func TestDefaultLimitsAreValid(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsValidateReportsEveryBadField(t *testing.T) {
	l := Limits{PresenceBinding: true, DiscoverLimit: 10001}
	var ps setting.Problems
	if !errors.As(l.Validate(), &ps) {
		t.Fatal("Validate accepted zero limits")
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Path] = true
	}
	for _, path := range []string{"min_ttl", "default_ttl", "max_ttl", "discover_limit", "max_discover_limit",
		"request_rate", "request_burst", "presence_grace", "stream_timeout", "max_streams_per_peer", "max_registrations_per_ip"} {
		if !got[path] {
			t.Errorf("no problem for %s in %v", path, ps)
		}
	}
}

func TestMetricsLeaveWithTheServiceSoTheNextOneRegisters(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newServer(t, nil, WithRegisterer(reg))
	if _, err := New(s.h, s.reg, WithRegisterer(reg)); err == nil {
		t.Fatal("a second open service registered the same metrics")
	}
	if err := s.svc.Close(); err != nil {
		t.Fatal(err)
	}
	next, err := New(s.h, s.reg, WithRegisterer(reg))
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	_ = next.Close()
}

// withRegistryLimits is registry.WithLimits of registry.DefaultLimits changed
// by set.
func withRegistryLimits(set func(*registry.Limits)) registry.Option {
	l := registry.DefaultLimits()
	set(&l)
	return registry.WithLimits(l)
}
