package node

import (
	"slices"
	"testing"
	"time"
)

func TestAdminNamesTheClusterNodeServingEachMember(t *testing.T) {
	cfgs := embeddedClusterConfigs(t, 2)
	cfgs[1].Admin.Addr = "127.0.0.1:0"
	a, b := startNode(t, cfgs[0]), startNode(t, cfgs[1])
	waitReady(t, a, b)
	member, _ := liveMember(t, a, "room")

	var ns NamespaceDetail
	deadline := time.Now().Add(clusterWait)
	for {
		if code := adminDo(t, b, "", "GET", "/v1/namespaces/room", "", &ns); code == 200 && len(ns.List) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b's admin API never listed node a's member: %+v", ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := ns.List[0]
	if m.Peer != member.ID().String() || m.Source != "live" || !slices.Equal(m.Nodes, []string{a.Host.ID().String()}) {
		t.Fatalf("member %+v, want %s served by node %s", m, member.ID(), a.Host.ID())
	}
}
