package config

import (
	"reflect"
	"strings"
	"testing"
)

var thisBox = Machine{FDLimit: 20000, Memory: 24 << 30}

func TestCapacityIsDerivedFromTheFileLimitOrMemoryWhicheverIsSmaller(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Machine
		want int
		from string
	}{
		{"file limit binds", thisBox, 19500, "file descriptors"},
		{"memory binds", Machine{FDLimit: 1 << 20, Memory: 2 << 30}, 8192, "memory"},
		{"nothing known", Machine{}, MaxPeers, "file descriptors"},
		{"tiny limit", Machine{FDLimit: 256, Memory: 1 << 30}, MinPeers, "file descriptors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from := Default().SizedFrom(tc.m)
			if got != tc.want || from != tc.from {
				t.Fatalf("SizedFrom = %d (%s), want %d (%s)", got, from, tc.want, tc.from)
			}
		})
	}
	c := Default()
	c.Capacity.Peers = 5000
	if p, from := c.SizedFrom(thisBox); p != 5000 || from != "config" {
		t.Fatalf("explicit capacity: %d (%s)", p, from)
	}
}

func TestDefaultsSizedForThisMachineHold19500PeersCoherently(t *testing.T) {
	c := Default().Sized(thisBox)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := c.Capacity.Peers
	if p != 19500 {
		t.Fatalf("capacity.peers = %d", p)
	}
	if c.Relay.MaxReservations < p || c.ConnManager.LowWater < p {
		t.Errorf("reservations %d, low water %d: below capacity %d", c.Relay.MaxReservations, c.ConnManager.LowWater, p)
	}
	if !(c.ConnManager.LowWater < c.ConnManager.HighWater && c.ConnManager.HighWater < c.Resources.MaxConnections) {
		t.Errorf("low %d < high %d < max connections %d does not hold", c.ConnManager.LowWater, c.ConnManager.HighWater, c.Resources.MaxConnections)
	}
	if c.Resources.MaxConnections > c.Resources.MaxFileDescriptors || c.Resources.MaxFileDescriptors > thisBox.FDLimit {
		t.Errorf("connections %d, fds %d, limit %d", c.Resources.MaxConnections, c.Resources.MaxFileDescriptors, thisBox.FDLimit)
	}
	// Window accounting must never be what refuses a stream the caps allow.
	if need := uint64(c.Resources.MaxStreams) * YamuxWindow; uint64(c.Resources.MaxMemoryMB)<<20 < need {
		t.Errorf("memory accounting %d MiB < %d streams x 256 KiB", c.Resources.MaxMemoryMB, c.Resources.MaxStreams)
	}
	if c.Registry.MaxRegistrations < p || c.WSStar.MaxViews < p {
		t.Errorf("registrations %d, views %d: below capacity", c.Registry.MaxRegistrations, c.WSStar.MaxViews)
	}
}

func TestSizedKeepsExplicitLimitsAndIsIdempotent(t *testing.T) {
	c := Default()
	c.Capacity.Peers = 1000
	c.Relay.MaxReservations = 123
	c.Resources.MaxMemoryMB = 2048
	s := c.Sized(thisBox)
	if s.Relay.MaxReservations != 123 || s.Resources.MaxMemoryMB != 2048 {
		t.Fatalf("explicit values replaced: %d reservations, %d MiB", s.Relay.MaxReservations, s.Resources.MaxMemoryMB)
	}
	if s.ConnManager.LowWater != 1000 || s.Resources.MaxConnections != 1164 {
		t.Fatalf("derived from 1000 peers: low water %d, max connections %d", s.ConnManager.LowWater, s.Resources.MaxConnections)
	}
	if again := s.Sized(Machine{FDLimit: 100, Memory: 1}); !reflect.DeepEqual(again, s) {
		t.Fatalf("sizing twice changed the result:\n%+v\n%+v", s, again)
	}
}

func TestExplicitLimitThatContradictsADerivedOneIsReportedWithItsPath(t *testing.T) {
	c := Default()
	c.ConnManager.HighWater = 30000 // above the 19,744 connections this box allows
	probs := problems(t, c.Sized(thisBox).Validate())
	if len(probs) != 1 || probs[0].Path != "resources.max_connections" || !strings.Contains(probs[0].Reason, "conn_manager.high_water (30000)") {
		t.Fatalf("problems = %v", probs)
	}
	// A smaller explicit limit pulls the derived ones under it instead.
	c = Default()
	c.Resources.MaxConnections = 5000
	s := c.Sized(thisBox)
	if err := s.Validate(); err != nil || s.ConnManager.HighWater >= 5000 {
		t.Fatalf("high water %d with max_connections 5000: %v", s.ConnManager.HighWater, err)
	}
}

func TestCapacityFlagEnvAndFileAgree(t *testing.T) {
	o, err := FromEnv(func(k string) string {
		if k == EnvMaxPeers {
			return "2500"
		}
		return ""
	})
	if err != nil || o.MaxPeers == nil || *o.MaxPeers != 2500 {
		t.Fatalf("env: %v %v", o.MaxPeers, err)
	}
	c := Default()
	if err := c.Apply(o); err != nil || c.Capacity.Peers != 2500 {
		t.Fatalf("apply: %d %v", c.Capacity.Peers, err)
	}
	if _, err := FromEnv(func(k string) string {
		if k == EnvMaxPeers {
			return "many"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), EnvMaxPeers) {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestWebRTCDirectConnectionsAreCappedByMemoryAndBudgetedInTheAccounting(t *testing.T) {
	c := Default().Sized(thisBox)
	// Half of this box's 24 GiB holds 14,979 WebRTC-direct peers at 840 KiB,
	// fewer than its 19,744 connections.
	if got, want := c.Resources.MaxWebRTCDirectConnections, int(thisBox.Memory/2/WebRTCDirectMemoryPerPeer); got != want || want >= c.Resources.MaxConnections {
		t.Fatalf("max_webrtc_direct_connections = %d, want %d (below %d connections)", got, want, c.Resources.MaxConnections)
	}
	// Accounting must never be what refuses a stream or a WebRTC-direct
	// connection the caps allow.
	need := uint64(c.Resources.MaxStreams)*YamuxWindow + uint64(c.Resources.MaxWebRTCDirectConnections)*WebRTCDirectAccounted
	if uint64(c.Resources.MaxMemoryMB)<<20 < need {
		t.Errorf("memory accounting %d MiB < %d MiB for every stream and WebRTC-direct connection", c.Resources.MaxMemoryMB, need>>20)
	}
	if big := Default().Sized(Machine{FDLimit: 20000, Memory: 64 << 30}); big.Resources.MaxWebRTCDirectConnections != big.Resources.MaxConnections {
		t.Errorf("64 GiB: max_webrtc_direct_connections = %d, want the %d connections", big.Resources.MaxWebRTCDirectConnections, big.Resources.MaxConnections)
	}

	ws := Default()
	ws.Listen = []string{"/ip4/0.0.0.0/tcp/9090/ws"}
	s := ws.Sized(thisBox)
	if s.Resources.MaxWebRTCDirectConnections != 0 || s.Resources.MaxMemoryMB >= c.Resources.MaxMemoryMB {
		t.Errorf("without WebRTC-direct: cap %d, memory %d MiB (with: %d MiB)", s.Resources.MaxWebRTCDirectConnections, s.Resources.MaxMemoryMB, c.Resources.MaxMemoryMB)
	}
}
