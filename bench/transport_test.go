package bench

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// inboundConns sums libp2p_swarm_connections_opened_total of inbound
// connections over transport (the swarm metric's label, as
// "webrtc-direct") from the node's /metrics.
func inboundConns(t *testing.T, tg *Target, transport string) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(tg.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "libp2p_swarm_connections_opened_total{") && strings.Contains(line, `dir="inbound"`) &&
			strings.Contains(line, fmt.Sprintf("transport=%q", transport)) {
			v, _ := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			sum += v
		}
	}
	return sum
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
