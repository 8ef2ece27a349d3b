package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// runAbuse runs one attack of the abuse suite against a node in this
// process, sized as the tool sizes it, with a small honest population.
func runAbuse(t *testing.T, scenario string, o AbuseOptions, bound time.Duration) *Report {
	t.Helper()
	o.Scenarios = []string{scenario}
	o.Peers, o.NSSize, o.Probes, o.Concurrency = 10, 5, 2, 8
	if o.Capacity == 0 {
		o.Capacity = 1000
	}
	if o.Window == 0 {
		o.Window = time.Second
	}
	tg, err := StartTarget(t.Context(), TargetOptions{Dir: t.TempDir(), Configure: AbuseConfig(o)})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	r, err := Abuse(runCtx(t, bound), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// survived checks what every attack must leave: the node answering, honest
// joins still working, and every attempt answered.
func survived(t *testing.T, r *Report, scenario string) {
	t.Helper()
	if f := figure(t, r, scenario+": node up after"); f.Value != 1 {
		t.Errorf("node not answering /healthz after %s: %s", scenario, f.Note)
	}
	if f := figure(t, r, scenario+": honest probes failed"); f.Value != 0 {
		t.Errorf("%v honest joins failed under %s (%s)", f.Value, scenario, f.Note)
	}
	if f := figure(t, r, scenario+": honest probe views missed"); f.Value != 0 {
		t.Errorf("%v honest views missed a joiner under %s", f.Value, scenario)
	}
	if f := figure(t, r, scenario+": attacker hangs"); f.Value != 0 {
		t.Errorf("%v attempts got no answer: %s", f.Value, figure(t, r, scenario+": attacker outcomes").Note)
	}
	if f := figure(t, r, scenario+": node connections after"); f.Met == nil || !*f.Met {
		t.Errorf("node holds %v connections after %s (%s)", f.Value, scenario, f.Note)
	}
}

// outcomes is the attacker's outcome summary of a scenario.
func outcomes(t *testing.T, r *Report, scenario string) string {
	t.Helper()
	return figure(t, r, scenario+": attacker outcomes").Note
}

func TestSlowlorisConnectionsAreClosedByTheHandshakeDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for go-libp2p's 15 s handshake deadline")
	}
	// resources.handshake_timeout (5 s) bounds the upgrade's headers and an
	// idle keep-alive, go-libp2p's upgrader the libp2p handshake (15 s). The
	// attacker comes from a trusted address so that no connection is
	// refused by the per-IP cap and every one must be ended by a deadline.
	r := runAbuse(t, "slowloris", AbuseOptions{Conns: 20, Hold: 17 * time.Second, AttackerIP: honestIP}, 60*time.Second)
	survived(t, r, "slowloris")
	for _, kind := range slowlorisKinds {
		f := figure(t, r, "slowloris: "+kind+", still open after 17s")
		if f.Value != 0 || !strings.Contains(f.Note, "of 20 opened") {
			t.Errorf("%s: %v of the stalled connections still open (%s)", kind, f.Value, f.Note)
		}
	}
}

func TestSlowlorisFromOneUntrustedAddressIsCappedAndHonestPeersStillJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for go-libp2p's 15 s handshake deadline")
	}
	r := runAbuse(t, "slowloris", AbuseOptions{Conns: 40, Hold: 17 * time.Second}, 60*time.Second)
	survived(t, r, "slowloris")
	// Only the kinds the node answered (an upgrade, a response) were surely
	// accepted: an unfinished upgrade is written before the node's refusal
	// arrives.
	opened := 0
	for _, kind := range slowlorisKinds[1:] {
		f := figure(t, r, "slowloris: "+kind+", still open after 17s")
		var n int
		if _, err := fmt.Sscanf(f.Note, "of %d opened", &n); err != nil {
			t.Fatalf("%s: note %q", kind, f.Note)
		}
		opened += n
	}
	// resources.conns_per_ip (64) at once, from 120 attempts.
	if opened > 64 {
		t.Errorf("%d answered stalled connections from 127.0.0.2 held at once; conns_per_ip is 64", opened)
	}
	if f := figure(t, r, "slowloris: honest probes failed"); f.Value != 0 {
		t.Errorf("%v honest probes failed while one untrusted address stalled connections (%s)", f.Value, f.Note)
	}
}

func TestOversizedAndMalformedMessagesGetAStatusOrAResetNeverAHang(t *testing.T) {
	r := runAbuse(t, "oversize", AbuseOptions{}, 40*time.Second)
	survived(t, r, "oversize")
	for _, c := range oversizeCases() {
		f := figure(t, r, "oversize: "+c.name+": hangs")
		if f.Value != 0 || strings.HasPrefix(f.Note, "0 sent") {
			t.Errorf("%s: %v hangs (%s)", c.name, f.Value, f.Note)
		}
		// A frame over a limit, or one that claims gigabytes, must not be
		// read: the node resets the stream at once.
		if strings.Contains(c.name, "claiming") && !strings.Contains(f.Note, "reset") && !strings.Contains(f.Note, "status") {
			t.Errorf("%s: %s, want a reset or a status", c.name, f.Note)
		}
	}
	if o := outcomes(t, r, "oversize"); !strings.Contains(o, "E_INVALID_NAMESPACE") {
		t.Errorf("a 300-byte namespace was not refused with E_INVALID_NAMESPACE: %s", o)
	}
}

func TestAStreamFloodFromOnePeerLeavesHonestJoinsWorking(t *testing.T) {
	r := runAbuse(t, "stream-flood", AbuseOptions{}, 40*time.Second)
	survived(t, r, "stream-flood")
	if f := figure(t, r, "stream-flood: streams opened"); f.Value < 100 {
		t.Errorf("only %v streams opened: the flood did not run (%s)", f.Value, f.Note)
	}
}

func TestJoinFloodFromFreshPeerIDsIsRefusedWithStatuses(t *testing.T) {
	r := runAbuse(t, "join-flood", AbuseOptions{Attackers: 10}, 40*time.Second)
	survived(t, r, "join-flood")
	o := outcomes(t, r, "join-flood")
	// One stream over wsstar.max_streams_per_peer, and joins past the
	// per-peer rate and per-stream caps: each refused with a status.
	for _, want := range []string{"join: ok", "E_NOT_AUTHORIZED", "E_UNAVAILABLE"} {
		if !strings.Contains(o, want) {
			t.Errorf("no %q among the attacker's answers: %s", want, o)
		}
	}
}

func TestRegisterAndDiscoverFloodsAreRefusedWithStatuses(t *testing.T) {
	r := runAbuse(t, "register-flood", AbuseOptions{Attackers: 10}, 40*time.Second)
	survived(t, r, "register-flood")
	o := outcomes(t, r, "register-flood")
	// Past the per-peer quota (E_NOT_AUTHORIZED) or the request rate
	// (E_UNAVAILABLE), depending on how fast the machine lets them go.
	for _, want := range []string{"REGISTER: ok", "REGISTER: status E_", "DISCOVER limit 2^31-1: ok"} {
		if !strings.Contains(o, want) {
			t.Errorf("no %q among the attacker's answers: %s", want, o)
		}
	}
}

func TestAReservationFloodLeavesHonestPeersReserving(t *testing.T) {
	r := runAbuse(t, "reservation-flood", AbuseOptions{Attackers: 20}, 40*time.Second)
	survived(t, r, "reservation-flood")
	if f := figure(t, r, "reservation-flood: attacker reservations held"); f.Value == 0 {
		t.Errorf("no attacker reservation: the flood did not run (%s)", outcomes(t, r, "reservation-flood"))
	}
}

func TestHTTPAbuseGetsAStatusOrACloseAndTheNodeKeepsServing(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the node's 10 s header deadline")
	}
	// From a trusted address, so that the per-IP cap refuses none of them.
	r := runAbuse(t, "http", AbuseOptions{AttackerIP: honestIP}, 40*time.Second)
	survived(t, r, "http")
	o := outcomes(t, r, "http")
	for _, want := range []string{"unknown path: status 404", "64 KiB of headers: status 431", "slow headers: closed"} {
		if !strings.Contains(o, want) {
			t.Errorf("no %q among the attacker's answers: %s", want, o)
		}
	}
}

func TestTLSHandshakesThatStallAreClosedByTheDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for go-libp2p's 15 s handshake deadline")
	}
	// From a trusted address, so that no connection is refused by the
	// per-IP cap and every one must be ended by a deadline: in the TLS
	// handshake, in the upgrade after it, or idle after a request.
	r := runAbuse(t, "tls-slowloris", AbuseOptions{Conns: 10, Hold: 17 * time.Second, AttackerIP: honestIP}, 90*time.Second)
	survived(t, r, "tls-slowloris")
	for _, kind := range tlsSlowlorisKinds {
		f := figure(t, r, "tls-slowloris: "+kind+", still open after 17s")
		if f.Value != 0 || !strings.Contains(f.Note, "of 10 opened") {
			t.Errorf("%s: %v of the stalled connections still open (%s)", kind, f.Value, f.Note)
		}
	}
	if f := figure(t, r, "tls-slowloris: GET /healthz over TLS after it"); f.Value != 1 {
		t.Errorf("the TLS listener does not serve after the attack: %s", f.Note)
	}
}

func TestH2CConnectionsAreClosedAndTheirStreamsCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the node's HTTP write and idle deadlines")
	}
	r := runAbuse(t, "h2c", AbuseOptions{Conns: 4, Hold: 20 * time.Second, AttackerIP: honestIP}, 90*time.Second)
	survived(t, r, "h2c")
	for _, kind := range h2cKinds {
		f := figure(t, r, "h2c: "+kind+", still open after 20s")
		if f.Value != 0 || !strings.Contains(f.Note, "of 4 opened") {
			t.Errorf("%s: %v connections still open (%s)", kind, f.Value, f.Note)
		}
	}
	f := figure(t, r, "h2c: streams answered on one connection, max")
	if f.Met == nil || !*f.Met || strings.Contains(f.Note, "unset") {
		t.Errorf("one h2c connection got %v streams answered (%s)", f.Value, f.Note)
	}
}

func TestACircuitFloodIsRefusedWithStatusesAndItsCircuitsReleased(t *testing.T) {
	r := runAbuse(t, "circuit-flood", AbuseOptions{Attackers: 40}, 90*time.Second)
	survived(t, r, "circuit-flood")
	if f := figure(t, r, "circuit-flood: circuits granted"); f.Value == 0 {
		t.Fatalf("no circuit granted: the flood did not run (%s)", outcomes(t, r, "circuit-flood"))
	}
	// 40 initiators to 20 targets: past relay.max_circuits (16) per target,
	// and 320 circuits past relay.max_active_circuits (256 at capacity 1000).
	if o := outcomes(t, r, "circuit-flood"); !strings.Contains(o, "CONNECT: status RESOURCE_LIMIT_EXCEEDED") {
		t.Errorf("no CONNECT refused with RESOURCE_LIMIT_EXCEEDED past the caps: %s", o)
	}
	if o := outcomes(t, r, "circuit-flood"); strings.Contains(o, "CONNECT: reset") || strings.Contains(o, "CONNECT: open") {
		t.Errorf("CONNECTs reset instead of refused with a status: %s", o)
	}
	for _, name := range []string{"circuits held at a target, max", "circuits open at the node", "honest RESERVE during the flood, and a status for its CONNECT", "circuits open after"} {
		if f := figure(t, r, "circuit-flood: "+name); f.Met == nil || !*f.Met {
			t.Errorf("%s: %v (%s)", name, f.Value, f.Note)
		}
	}
}

func TestAPubsubFloodIsCountedByKindAndHonestAppsStillLearnEachOther(t *testing.T) {
	// Two attackers of each kind; the node announces every second.
	r := runAbuse(t, "pubsub-flood", AbuseOptions{Attackers: 10, AnnounceInterval: time.Second}, 60*time.Second)
	survived(t, r, "pubsub-flood")
	for _, name := range []string{
		"honest apps learned every other honest one, min",
		"honest apps heard an attacker or a forged key",
		"honest apps heard other addresses than announced",
		"pubsub members at the end",
		"counted junk", "counted forged", "counted over_rate", "counted unserved_topic", "counted bad_signature",
	} {
		if f := figure(t, r, "pubsub-flood: "+name); f.Met == nil || !*f.Met {
			t.Errorf("%s = %v, target %s (%s)", name, f.Value, f.Target, f.Note)
		}
	}
	// Not its pass row: the node runs in the test binary, whose RSS is
	// checked against the node's memory budget.
	if t.Failed() {
		var b strings.Builder
		_ = r.WriteTable(&b)
		t.Log("\n" + b.String())
	}
}
