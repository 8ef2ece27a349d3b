package bench

import (
	"testing"
	"time"
)

// inboundConns sums libp2p_swarm_connections_opened_total of inbound
// connections over transport (the swarm metric's label, as
// "webrtc-direct") from the node's /metrics.
func inboundConns(t *testing.T, tg *Target, transport string) float64 {
	t.Helper()
	fams, err := scrapeMetrics(tg.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := fams.Sum("libp2p_swarm_connections_opened_total", "dir", "inbound", "transport", transport)
	return v
}

func TestCapacityPeersConnectOverTheChosenTransport(t *testing.T) {
	for _, tr := range []Transport{TransportWebRTCDirect, TransportWebTransport} {
		t.Run(string(tr), func(t *testing.T) {
			tg, err := StartTarget(t.Context(), TargetOptions{Dir: t.TempDir(), Transport: tr})
			if err != nil {
				t.Fatalf("start node: %v", err)
			}
			t.Cleanup(func() { _ = tg.Close() })
			// go-libp2p's swarm counters are shared by every node in this
			// process: count the difference.
			wsBefore, before := inboundConns(t, tg, "websocket"), inboundConns(t, tg, string(tr))
			r, err := Capacity(runCtx(t, 60*time.Second), tg, CapacityOptions{
				Peers: 12, NSSize: 6, Probes: 2, Idle: 300 * time.Millisecond, Concurrency: 4, Transport: tr,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := figure(t, r, "peers connected").Value; got != 12 {
				t.Fatalf("peers connected = %v, want 12 (first error: %s)", got, figure(t, r, "peers failed").Note)
			}
			if got := figure(t, r, "probe views missed").Value; got != 0 {
				t.Errorf("probe views missed = %v, want 0", got)
			}
			// 12 peers and 2 probes, each on its own connection.
			if got := inboundConns(t, tg, string(tr)) - before; got < 14 {
				t.Errorf("node opened %v inbound %s connections, want at least 14", got, tr)
			}
			if got := inboundConns(t, tg, "websocket") - wsBefore; got != 0 {
				t.Errorf("node opened %v inbound WebSocket connections, want none", got)
			}
		})
	}
}
