package wsstar

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/registry"
)

func TestDefaultLimitsAreValid(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsValidateReportsEveryBadField(t *testing.T) {
	l := Limits{DefaultMaxPeers: 2000, MaxPeers: MaxViewSize + 1, FlushInterval: setting.Duration(time.Millisecond)}
	err := l.Validate()
	var ps setting.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate = %v, want setting.Problems", err)
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Path] = true
	}
	for _, path := range []string{"default_max_peers", "max_peers", "flush_interval", "max_joins_per_stream",
		"max_streams_per_peer", "max_views", "max_pending_events", "join_rate", "join_burst", "write_timeout"} {
		if !got[path] {
			t.Errorf("no problem for %s in %v", path, err)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	h := newNode(t, nil).h
	reg := registry.NewMemory()
	t.Cleanup(func() { _ = reg.Close() })
	bad := DefaultLimits()
	bad.MaxPeers = 0
	for name, o := range map[string]Option{
		"bad limits":       WithLimits(bad),
		"nil logger":       WithLogger(nil),
		"nil observer":     WithLimitObserver(nil),
		"override too big": WithPolicy(registry.Policy{Overrides: []registry.Override{{Prefix: "a", MaxViewSize: MaxViewSize + 1}}}),
	} {
		svc, err := New(h, reg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), o)
		if err == nil {
			_ = svc.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "wsstar: ") {
			t.Errorf("%s: error %q does not name the package", name, err)
		}
	}
}

// withRegistryLimits is registry.WithLimits of registry.DefaultLimits changed
// by set.
func withRegistryLimits(set func(*registry.Limits)) registry.Option {
	l := registry.DefaultLimits()
	set(&l)
	return registry.WithLimits(l)
}

// withLimits is WithLimits of DefaultLimits changed by set.
func withLimits(set func(*Limits)) Option {
	l := DefaultLimits()
	set(&l)
	return WithLimits(l)
}
