package config

import (
	"strings"
	"testing"
)

func TestAddrMethodsParseTheLists(t *testing.T) {
	c := Default()
	c.Listen = []string{"/ip4/0.0.0.0/tcp/9090/ws", "/ip6/::/tcp/9090/ws"}
	c.Announce = []string{"/dns4/rdv.example.com/tcp/443/wss"}
	c.NoAnnounce = []string{"/ip4/10.0.0.0/ipcidr/8"}
	l, err := c.ListenAddrs()
	if err != nil || len(l) != 2 || l[1].String() != "/ip6/::/tcp/9090/ws" {
		t.Fatalf("ListenAddrs = %v, %v", l, err)
	}
	a, err := c.AnnounceAddrs()
	if err != nil || len(a) != 1 || a[0].String() != c.Announce[0] {
		t.Fatalf("AnnounceAddrs = %v, %v", a, err)
	}
	n, err := c.NoAnnounceAddrs()
	if err != nil || len(n) != 1 || n[0].String() != c.NoAnnounce[0] {
		t.Fatalf("NoAnnounceAddrs = %v, %v", n, err)
	}

	c.Announce = append(c.Announce, "junk")
	if _, err := c.AnnounceAddrs(); err == nil || !strings.Contains(err.Error(), "announce[1]") {
		t.Fatalf("err = %v, want it to name announce[1]", err)
	}
}

func TestUsesTLSOnlyForSecureListeners(t *testing.T) {
	for listen, want := range map[string]bool{
		"/ip4/0.0.0.0/tcp/9090/ws":                    false,
		"/ip4/0.0.0.0/tcp/443/wss":                    true,
		"/ip4/0.0.0.0/tcp/443/tls/ws":                 true,
		"/ip6/::/tcp/443/tls/sni/rdv.example.com/ws":  true,
		"not an address":                              false,
		"/ip4/0.0.0.0/tcp/443/tls/sni/x.example/http": false,
	} {
		c := Default()
		c.Listen = []string{"/ip4/127.0.0.1/tcp/1/ws", listen}
		if got := c.UsesTLS(); got != want {
			t.Errorf("%s: UsesTLS() = %v, want %v", listen, got, want)
		}
	}
}
