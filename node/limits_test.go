package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar"
)

// metric reads one series of the node's registry (what /metrics serves;
// the HTTP port may itself be over a limit): the value of the sample of name
// whose labels include labels, and whether there is one.
func metric(t *testing.T, n *Node, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := n.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue samples
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// refusals reads rendezvous_limit_refusals_total{limit}; 0 before the first.
func refusals(t *testing.T, n *Node, limit string) int {
	v, _ := metric(t, n, "rendezvous_limit_refusals_total", map[string]string{"limit": limit})
	return int(v)
}

func TestAViewLimitRefusalNamesTheSettingInReplyAndMetric(t *testing.T) {
	c := testConfig(t)
	c.WSStar.MaxViews = 1
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		h := testhost.NewClient(t)
		if err := h.Connect(ctx, nodeInfo(n)); err != nil {
			t.Fatal(err)
		}
		cl, err := wsstar.Dial(ctx, h, n.Host.ID())
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Join(ctx, "ns", true, 0)
		if i == 0 && err != nil {
			t.Fatalf("first join: %v", err)
		}
		if i == 1 && (err == nil || !strings.Contains(err.Error(), "(wsstar.max_views)")) {
			t.Fatalf("second join: %v, want a refusal naming wsstar.max_views", err)
		}
	}
	if got := refusals(t, n, "wsstar.max_views"); got != 1 {
		t.Fatalf("refusals{wsstar.max_views} = %d, want 1", got)
	}
}

func TestRelayReservationRefusalIsCountedUnderItsSetting(t *testing.T) {
	c := testConfig(t)
	c.Capacity.Peers = 100
	c.Relay.MaxReservations = 1
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	reserve(t, ctx, testhost.NewClient(t), n)
	h := testhost.NewClient(t)
	if err := h.Connect(ctx, nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	if _, err := reserveErr(ctx, h, n); err == nil {
		t.Fatal("second reservation granted with relay.max_reservations = 1")
	}
	if got := refusals(t, n, "relay.max_reservations"); got != 1 {
		t.Fatalf("refusals{relay.max_reservations} = %d, want 1", got)
	}
}

func TestConnectionsOverTheLimitAreRefusedAndCounted(t *testing.T) {
	c := testConfig(t)
	c.Capacity.Peers = 16
	c.Resources.MaxConnections = 3
	c.ConnManager.HighWater, c.ConnManager.LowWater = 2, 1
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var failed int
	for range 5 {
		h := testhost.NewClient(t)
		if err := h.Connect(ctx, nodeInfo(n)); err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("every connection accepted with resources.max_connections = 3")
	}
	deadline := time.Now().Add(5 * time.Second)
	for refusals(t, n, "resources.max_connections") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no refusal counted under resources.max_connections")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gauge reads one rendezvous_resources_* series.
func gauge(t *testing.T, n *Node, name, scope, resource string) float64 {
	t.Helper()
	v, ok := metric(t, n, name, map[string]string{"scope": scope, "resource": resource})
	if !ok {
		t.Fatalf("no %s{scope=%q,resource=%q}", name, scope, resource)
	}
	return v
}

func TestResourceGaugesFollowConnectionsAndShowTheSizedLimits(t *testing.T) {
	c := testConfig(t)
	c.Capacity.Peers = 100
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	before := gauge(t, n, "rendezvous_resources_used", "system", "connections")
	for range 3 {
		if err := testhost.NewClient(t).Connect(ctx, nodeInfo(n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := gauge(t, n, "rendezvous_resources_used", "system", "connections"); got != before+3 {
		t.Fatalf("system connections = %v after 3 connects, want %v", got, before+3)
	}
	if got := gauge(t, n, "rendezvous_resources_limit", "system", "connections"); got != float64(n.cfg.Resources.MaxConnections) {
		t.Fatalf("system connection limit = %v, want %d", got, n.cfg.Resources.MaxConnections)
	}
}
