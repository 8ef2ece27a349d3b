package netlab

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func newLab(t *testing.T, n int) *Lab {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no network lab here: %v", err)
	}
	l, err := New(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// reach reports whether a TCP connection from node i to addr opens within
// 2 s.
func reach(t *testing.T, l *Lab, i int, addr net.Addr) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(addr.String())
	name, args := l.Command(i, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
	return exec.CommandContext(ctx, name, args...).Run() == nil
}

// accept answers every connection on ln until it is closed.
func accept(t *testing.T, ln net.Listener) net.Addr {
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln.Addr()
}

func TestPartitionCutsTheNodesApartButNotFromTheRootNamespace(t *testing.T) {
	l := newLab(t, 3)
	root, err := net.Listen("tcp", net.JoinHostPort(l.Gateway().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	gw := accept(t, root)
	at := make([]net.Addr, 3)
	for i := range at {
		ln, err := l.Listen(i, 7000)
		if err != nil {
			t.Fatal(err)
		}
		at[i] = accept(t, ln)
	}
	for i := range at {
		if !reach(t, l, i, gw) {
			t.Fatalf("node %d does not reach the root namespace at %s", i+1, gw)
		}
	}
	if !reach(t, l, 2, at[0]) {
		t.Fatal("node 3 does not reach node 1 before the partition")
	}
	if err := l.Partition(t.Context(), []int{2}, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if reach(t, l, 2, at[0]) || reach(t, l, 0, at[2]) {
		t.Error("node 3 and node 1 still reach each other across the partition")
	}
	if !reach(t, l, 2, gw) || !reach(t, l, 0, at[1]) {
		t.Error("the partition cut a link it should not have")
	}
	if c, err := net.DialTimeout("tcp", at[2].String(), 2*time.Second); err != nil {
		t.Errorf("the root namespace does not reach the cut-off node: %v", err)
	} else {
		_ = c.Close()
	}
	if err := l.Heal(t.Context(), []int{2}, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if !reach(t, l, 2, at[0]) {
		t.Error("node 3 does not reach node 1 after the heal")
	}
}

func TestCloseRemovesTheNamespacesAndLinks(t *testing.T) {
	l := newLab(t, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	nss, _ := output(t.Context(), "ip", "netns", "list")
	links, _ := output(t.Context(), "ip", "-o", "link", "show")
	for _, nd := range l.Nodes() {
		if strings.Contains(nss, nd.NS) {
			t.Errorf("namespace %s left behind", nd.NS)
		}
		if strings.Contains(links, nd.veth) {
			t.Errorf("link %s left behind", nd.veth)
		}
	}
	if strings.Contains(links, l.bridge) {
		t.Errorf("bridge %s left behind", l.bridge)
	}
}

func TestSweepRemovesWhatADeadRunLeft(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("no network lab here: %v", err)
	}
	// 4999999: above any pid_max, a PID no process has.
	ns := nsPrefix + "4999999-1"
	if err := run(t.Context(), "ip", "netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run(context.Background(), "ip", "netns", "del", ns) })
	if err := run(t.Context(), "ip", "link", "add", bridgePrefix+"4999999", "type", "bridge"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run(context.Background(), "ip", "link", "del", bridgePrefix+"4999999") })
	Sweep(t.Context())
	nss, _ := output(t.Context(), "ip", "netns", "list")
	links, _ := output(t.Context(), "ip", "-o", "link", "show")
	if strings.Contains(nss, ns) || strings.Contains(links, bridgePrefix+"4999999:") {
		t.Errorf("the sweep left the dead run's namespace or bridge:\n%s\n%s", nss, links)
	}
}

func TestNamesParse(t *testing.T) {
	for name, want := range map[string]int{"rlb123": 123, "rlv123n1": 123, "rlv123n1p": 123, "rlbx": 0, "rlv12": 0, "eth0": 0} {
		if got, _ := linkPID(name); got != want {
			t.Errorf("linkPID(%q) = %d, want %d", name, got, want)
		}
	}
	if got := linkNames("3: rlv9n1@if4: <BROADCAST> mtu 1500\n4: rlb9: <UP>\n"); strings.Join(got, ",") != "rlv9n1,rlb9" {
		t.Errorf("linkNames = %v", got)
	}
}
