package testhost

import "testing"

func TestHostsConnectOverLoopbackWebSockets(t *testing.T) {
	a := New(t)
	b := NewClient(t)
	Connect(t, b, a)
	if len(a.Network().ConnsToPeer(b.ID())) == 0 {
		t.Fatal("no connection")
	}
}
