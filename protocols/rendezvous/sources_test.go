package rendezvous

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/registry"
)

func TestRegistrationsPerSourceAreCappedAcrossPeerIDsAndFreedWhenTheyLeave(t *testing.T) {
	// Every test peer dials from 127.0.0.1: with nothing exempt they are one
	// source, as fresh peer IDs from one attacker would be.
	s := newServer(t, nil, WithTrustedSubnets(nil), withLimits(func(l *Limits) {
		l.MaxRegistrationsPerIP = 3
		l.MinTTL, l.DefaultTTL, l.MaxTTL = setting.Duration(time.Second), setting.Duration(time.Second), setting.Duration(time.Minute)
	}))
	_, a := s.newClient(t)
	_, b := s.newClient(t)
	ctx := t.Context()
	for _, ns := range []string{"one", "two"} {
		if _, err := a.Register(ctx, ns, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Register(ctx, "three", time.Second); err != nil {
		t.Fatalf("third registration from the source: %v", err)
	}
	_, err := b.Register(ctx, "four", time.Minute)
	wantStatus(t, err, StatusUnavailable)
	if se := err.(*StatusError); !strings.Contains(se.Text, "rendezvous.max_registrations_per_ip") {
		t.Errorf("refusal %q does not name the setting", se.Text)
	}
	// A refresh is not a new registration.
	if _, err := a.Register(ctx, "one", time.Minute); err != nil {
		t.Fatalf("refresh at the cap: %v", err)
	}
	// An UNREGISTER gives a slot back...
	if err := a.Unregister(ctx, "two"); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the unregistered slot to be free", func() bool {
		_, err := b.Register(ctx, "four", time.Minute)
		return err == nil
	})
	// ...and so does an expiry (b's "three" had a 1 s TTL).
	testhost.Eventually(t, "the expired slot to be free", func() bool {
		_, err := b.Register(ctx, "five", time.Minute)
		return err == nil
	})
	_, err = b.Register(ctx, "six", time.Minute)
	wantStatus(t, err, StatusUnavailable)
}

func TestRegistrationRefusedByTheRegistryDoesNotUseASourceSlot(t *testing.T) {
	s := newServer(t, []registry.Option{withRegistryLimits(func(l *registry.Limits) { l.MaxNamespaces = 1 })},
		WithTrustedSubnets(nil), withLimits(func(l *Limits) { l.MaxRegistrationsPerIP = 2 }))
	_, a := s.newClient(t)
	ctx := t.Context()
	if _, err := a.Register(ctx, "one", 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := a.Register(ctx, "other", 0)
		wantStatus(t, err, StatusUnavailable) // registry.max_namespaces
	}
	if _, err := a.Register(ctx, "one", 0); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	_, b := s.newClient(t)
	if _, err := b.Register(ctx, "one", 0); err != nil {
		t.Fatalf("second slot of the source taken by refused registrations: %v", err)
	}
}

func TestExemptSourcesAreNotCapped(t *testing.T) {
	s := newServer(t, nil, WithTrustedSubnets([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
		withLimits(func(l *Limits) { l.MaxRegistrationsPerIP = 1 }))
	_, a := s.newClient(t)
	for _, ns := range []string{"one", "two", "three"} {
		if _, err := a.Register(t.Context(), ns, 0); err != nil {
			t.Fatalf("exempt source capped: %v", err)
		}
	}
}
