package bench

import (
	"bufio"
	"net"
	"net/netip"
	"testing"
	"time"
)

// echo serves one line back per line read.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write(append(sc.Bytes(), '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRouteRelayDelaysEachDirectionByItsLinkDelay(t *testing.T) {
	target := echo(t)
	r, err := newRouteRelays(netip.MustParseAddr("127.0.0.1"), []string{target, target})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	const d = 100 * time.Millisecond
	r.setDelay(0, 1, d)
	c, err := net.Dial("tcp", r.Addr(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	for i := range 5 {
		t0 := time.Now()
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil || line != "ping\n" {
			t.Fatalf("round %d: %q, %v", i, line, err)
		}
		// Both directions are held: at least twice the delay. (No upper
		// bound: the machine is shared.)
		if rtt := time.Since(t0); rtt < 2*d {
			t.Fatalf("round trip %s through a %s link, want at least %s", rtt, d, 2*d)
		} else {
			t.Logf("round trip %s", rtt)
		}
	}
}
