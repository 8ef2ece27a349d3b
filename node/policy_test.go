package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

func TestNamespacePolicyRefusesWithTheProtocolsStatusesAndNamesTheSetting(t *testing.T) {
	c := testConfig(t)
	c.Namespaces.AllowPrefixes = []string{"app/"}
	c.Namespaces.Overrides = []config.NamespaceOverride{{Prefix: "app/tiny/", MaxMembers: 1, MaxViewSize: 2}}
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	peerOf := func() host.Host {
		h := testhost.New(t)
		testhost.Connect(t, h, n.Host)
		return h
	}
	wantJoinStatus := func(err error, st pb.JoinAck_Status, setting string) {
		t.Helper()
		var se *wsstar.StatusError
		if !errors.As(err, &se) || se.Status != st || !strings.Contains(se.Text, setting) {
			t.Fatalf("join: %v, want %s naming %s", err, st, setting)
		}
	}

	a := peerOf()
	live, err := wsstar.Dial(ctx, a, n.Host.ID())
	if err != nil {
		t.Fatal(err)
	}
	// Not allowed: refused to a watcher too.
	_, err = live.Join(ctx, "other", false, 0)
	wantJoinStatus(err, pb.JoinAck_E_NOT_AUTHORIZED, "namespaces.allow_prefixes")
	// The override's view size clamps what a join asks for.
	res, err := live.Join(ctx, "app/tiny/room", true, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.MaxPeers != 2 {
		t.Errorf("view of app/tiny/room: max_peers %d, want the override's 2", res.MaxPeers)
	}
	if res, err := live.Join(ctx, "app/room", false, 1000); err != nil || res.MaxPeers != uint32(c.WSStar.MaxPeers) {
		t.Errorf("view of app/room: %+v, %v; want wsstar.max_peers %d", res, err, c.WSStar.MaxPeers)
	}

	b := peerOf()
	live2, err := wsstar.Dial(ctx, b, n.Host.ID())
	if err != nil {
		t.Fatal(err)
	}
	// The override's member cap: a second announced member is refused...
	_, err = live2.Join(ctx, "app/tiny/room", true, 0)
	wantJoinStatus(err, pb.JoinAck_E_UNAVAILABLE, "namespaces.max_members")
	// ...and so is its registration, through the other protocol.
	rc := rendezvous.NewClient(b, n.Host.ID())
	_, err = rc.Register(ctx, "app/tiny/room", time.Hour)
	var rse *rendezvous.StatusError
	if !errors.As(err, &rse) || rse.Status != rendezvous.StatusUnavailable || !strings.Contains(rse.Text, "namespaces.max_members") {
		t.Fatalf("register in a full namespace: %v, want E_UNAVAILABLE naming namespaces.max_members", err)
	}
	_, err = rc.Register(ctx, "other", time.Hour)
	if !errors.As(err, &rse) || rse.Status != rendezvous.StatusNotAuthorized || !strings.Contains(rse.Text, "namespaces.allow_prefixes") {
		t.Fatalf("register outside the allowed prefixes: %v, want E_NOT_AUTHORIZED naming namespaces.allow_prefixes", err)
	}
	if _, err := rc.Register(ctx, "app/room", time.Hour); err != nil {
		t.Fatalf("register in an allowed namespace: %v", err)
	}
	// The first member leaves: there is room again.
	if err := live.Leave("app/tiny/room"); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "room in app/tiny/room", func() bool {
		_, err := rc.Register(ctx, "app/tiny/room", time.Hour)
		return err == nil
	})
}
