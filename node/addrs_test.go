package node

import (
	"slices"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func addrs(ss ...string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		out[i] = ma.StringCast(s)
	}
	return out
}

func strs(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func TestAdvertisedAddressPolicy(t *testing.T) {
	listen := addrs("/ip4/127.0.0.1/tcp/9090/ws", "/ip4/10.1.2.3/tcp/9090/ws", "/ip4/93.184.216.34/tcp/9090/ws")
	lan := addrs("/ip4/127.0.0.1/tcp/9090/ws", "/ip4/192.168.1.5/tcp/9090/ws")
	cases := []struct {
		name                 string
		announce, noAnnounce []ma.Multiaddr
		private              bool
		in                   []ma.Multiaddr
		want                 []string
	}{
		{"public node hides private addresses", nil, nil, false, listen, []string{"/ip4/93.184.216.34/tcp/9090/ws"}},
		{"announce_private keeps them", nil, nil, true, listen, strs(listen)},
		{"LAN node advertises what it has", nil, nil, false, lan, strs(lan)},
		{"announce replaces", addrs("/dns4/rdv.example.com/tcp/443/wss"), nil, false, listen, []string{"/dns4/rdv.example.com/tcp/443/wss"}},
		{"no_announce drops an address", nil, addrs("/ip4/192.168.1.5/tcp/9090/ws"), false, lan, []string{"/ip4/127.0.0.1/tcp/9090/ws"}},
		{"no_announce drops a subnet", nil, addrs("/ip4/127.0.0.0/ipcidr/8"), false, lan, []string{"/ip4/192.168.1.5/tcp/9090/ws"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strs(newAddrPolicy(tc.announce, tc.noAnnounce, tc.private).filter(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
