package netaddr

import (
	"net/netip"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestIPOfMappedIPv6IsIPv4AndInAnyMatchesItsSubnet(t *testing.T) {
	a := ma.StringCast("/ip6/::ffff:10.1.2.3/tcp/1")
	ip, ok := IP(a)
	if !ok || ip != netip.MustParseAddr("10.1.2.3") {
		t.Fatalf("IP = %v, %v; want 10.1.2.3", ip, ok)
	}
	nets := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if !InAny(a, nets) || InAny(ma.StringCast("/ip4/11.0.0.1/tcp/1"), nets) || InAny(ma.StringCast("/dns4/example.com/tcp/1"), nets) {
		t.Fatal("InAny matched the wrong addresses")
	}
	if _, ok := IP(nil); ok {
		t.Fatal("IP of nil")
	}
}
