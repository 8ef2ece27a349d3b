package deny

import (
	"net/netip"
	"testing"
	"time"
)

func TestRefusalLogAllowsOneLinePerIPPerWindowAndCountsTheRest(t *testing.T) {
	l := newRefusalLog(time.Minute, 2)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	t0 := time.Unix(1000, 0)
	step := func(ip netip.Addr, at time.Duration, wantOK bool, wantSuppressed int) {
		t.Helper()
		s, ok := l.allow(ip, t0.Add(at))
		if ok != wantOK || (ok && s != wantSuppressed) {
			t.Fatalf("%s at %v: (%d, %v), want (%d, %v)", ip, at, s, ok, wantSuppressed, wantOK)
		}
	}
	step(a, 0, true, 0)
	step(a, time.Second, false, 0)
	step(a, 2*time.Second, false, 0)
	step(b, 3*time.Second, true, 0)
	step(c, 4*time.Second, false, 0) // the table is full: counted, not logged
	// The next line reports a's two and the one no IP was remembered for.
	step(a, time.Minute, true, 3)
	// The windows are over: c takes a place, with nothing left unreported.
	step(c, 2*time.Minute, true, 0)
}

func TestPrefixSetFindsTheLongestMatch(t *testing.T) {
	s := newPrefixSet([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		[]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")})
	for ip, want := range map[string]string{
		"10.1.2.3":         "10.1.0.0/16",
		"10.2.0.1":         "10.0.0.0/8",
		"::ffff:10.9.9.9":  "10.0.0.0/8",
		"2001:db8::1":      "2001:db8::/32",
		"11.0.0.1":         "",
		"2001:db9::1":      "",
		"::ffff:127.0.0.1": "",
	} {
		p, ok := s.match(netip.MustParseAddr(ip))
		if got := map[bool]string{true: p.String(), false: ""}[ok]; got != want {
			t.Errorf("%s: got %q, want %q", ip, got, want)
		}
	}
}
