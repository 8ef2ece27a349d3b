package netlab

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

// lossDatagrams is the sample of each count: at 50 % loss, the share lost
// falls outside 30–70 % with a probability far below 1e-30.
const lossDatagrams = 1000

// listenUDP opens a UDP socket inside node i's namespace on its address.
func listenUDP(t *testing.T, l *Lab, i, port int) *net.UDPConn {
	t.Helper()
	var c net.PacketConn
	err := l.inNS(i, func() error {
		var err error
		c, err = net.ListenPacket("udp", netip.AddrPortFrom(l.nodes[i].Addr, uint16(port)).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.UDPConn)
}

// lost sends lossDatagrams datagrams from src to dst, read on rx, and
// returns how many did not arrive. Each count has its own tag, so that a
// late datagram of an earlier one is not counted.
func lost(t *testing.T, src net.PacketConn, dst net.Addr, rx *net.UDPConn, tag uint32) int {
	t.Helper()
	got := make(chan int, 1)
	// The reader stops 1 s after the last datagram.
	last := time.Now().Add(time.Hour)
	_ = rx.SetReadDeadline(last)
	go func() {
		seen := map[uint32]bool{}
		buf := make([]byte, 64)
		for {
			n, _, err := rx.ReadFrom(buf)
			if err != nil {
				got <- len(seen)
				return
			}
			if n == 8 && binary.BigEndian.Uint32(buf) == tag {
				seen[binary.BigEndian.Uint32(buf[4:])] = true
			}
		}
	}()
	msg := make([]byte, 8)
	binary.BigEndian.PutUint32(msg, tag)
	for k := range lossDatagrams {
		binary.BigEndian.PutUint32(msg[4:], uint32(k))
		if _, err := src.WriteTo(msg, dst); err != nil {
			t.Fatal(err)
		}
		// Small bursts: the receiving socket's buffer must not be what
		// drops them.
		if k%20 == 19 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	_ = rx.SetReadDeadline(time.Now().Add(time.Second))
	return lossDatagrams - <-got
}

func TestLossDropsAShareOfTheNodesTrafficAndNoneOfThePeers(t *testing.T) {
	l := newLab(t, 3)
	if err := LossAvailable(); err != nil {
		t.Skipf("no packet loss here: %v", err)
	}
	const relayed, other = 7001, 7002
	rx := listenUDP(t, l, 1, relayed)
	rxOther := listenUDP(t, l, 1, other)
	fromNode := listenUDP(t, l, 0, 0)
	fromRoot, err := net.ListenPacket("udp", netip.AddrPortFrom(l.Gateway(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fromRoot.Close() })
	to := func(port int) net.Addr {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.nodes[1].Addr, uint16(port)))
	}
	if n := lost(t, fromNode, to(relayed), rx, 1); n != 0 {
		t.Fatalf("%d of %d datagrams lost from node 1 to node 2 before any loss was set", n, lossDatagrams)
	}

	if err := l.Loss(t.Context(), 50, relayed); err != nil {
		t.Fatal(err)
	}
	within := func(what string, n int) {
		t.Helper()
		t.Logf("%s: %d of %d lost", what, n, lossDatagrams)
		if n < lossDatagrams*3/10 || n > lossDatagrams*7/10 {
			t.Errorf("%s at 50 %% loss: %d of %d datagrams lost, want 30–70 %%", what, n, lossDatagrams)
		}
	}
	within("node 1 to node 2", lost(t, fromNode, to(other), rxOther, 2))
	within("root namespace to node 2 on a listed port", lost(t, fromRoot, to(relayed), rx, 3))
	if n := lost(t, fromRoot, to(other), rxOther, 4); n != 0 {
		t.Errorf("root namespace to node 2 on another port (a peer's traffic): %d of %d lost, want 0", n, lossDatagrams)
	}

	if err := l.NoLoss(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := lost(t, fromNode, to(relayed), rx, 5); n != 0 {
		t.Errorf("%d of %d datagrams lost from node 1 to node 2 after NoLoss", n, lossDatagrams)
	}
	if err := l.NoLoss(t.Context()); err != nil {
		t.Errorf("a second NoLoss: %v", err)
	}
}

func TestLossRejectsAShareOutOfRange(t *testing.T) {
	l := &Lab{}
	for _, pct := range []int{-1, 101} {
		if err := l.Loss(t.Context(), pct); err == nil {
			t.Errorf("Loss(%d) = %v, want an error", pct, err)
		}
	}
}

func TestRetransmitsReadsTheTCPCounterOfTheNamespace(t *testing.T) {
	const snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm ActiveOpens RetransSegs InErrs\nTcp: 1 7 42 0\nUdp: InDatagrams\nUdp: 3\n"
	if got, err := snmpField(snmp, "Tcp", "RetransSegs"); err != nil || got != 42 {
		t.Errorf("snmpField = %d, %v; want 42", got, err)
	}
	if _, err := snmpField(snmp, "Tcp", "Nope"); err == nil {
		t.Error("a missing counter gave no error")
	}
	l := newLab(t, 1)
	if _, err := l.Retransmits(0); err != nil {
		t.Error(err)
	}
}
