package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar"
)

const (
	dashboardFile = "../deploy/grafana/rendezvous.json"
	dashboardDoc  = "../docs/dashboard.md"
)

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	where, expr string
}

// dashboardQueries reads every panel target's expression (rows' nested
// panels included) and the query variables' queries from the dashboard.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []dashboardQuery
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardFile, err)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %s has no expression", p.Title, tg.RefID)
				}
				out = append(out, dashboardQuery{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			// Older dashboards keep the query as a plain string.
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("variable %s: query: %v", v.Name, err)
			}
		}
		// label_values(selector, label) is Grafana's, not PromQL: its
		// selector is what must exist.
		expr := q.Query
		if inner, ok := strings.CutPrefix(expr, "label_values("); ok {
			if i := strings.LastIndexByte(inner, ','); i > 0 {
				expr = inner[:i]
			}
		}
		out = append(out, dashboardQuery{fmt.Sprintf("variable %s", v.Name), expr})
	}
	return out
}

// alertQueries reads the expressions of the alert table in docs/dashboard.md:
// the first code span of each row's second column.
func alertQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(dashboardDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Alerts worth setting\n")
	if !ok {
		t.Fatalf("%s: no alerts section", dashboardDoc)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var out []dashboardQuery
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| alert |") {
			continue
		}
		// Cells are split on | not escaped as \|.
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")
		if len(cells) < 3 {
			continue
		}
		_, code, ok := strings.Cut(cells[2], "`")
		if code, _, ok2 := strings.Cut(code, "`"); ok && ok2 {
			out = append(out, dashboardQuery{fmt.Sprintf("alert %q in %s", strings.TrimSpace(cells[1]), dashboardDoc),
				strings.ReplaceAll(code, "\x00", "|")})
		}
	}
	if len(out) < 5 {
		t.Fatalf("%s: only %d alert expressions found", dashboardDoc, len(out))
	}
	return out
}

// prometheusSeries are made by Prometheus itself for every target.
var prometheusSeries = setOf("up", "scrape_duration_seconds", "scrape_samples_scraped")

// TestEveryDashboardQueryNamesSeriesTheNodeExposes holds every expression of
// the Grafana dashboard against the /metrics of a real node: one in an
// embedded cluster of two (so the rendezvous_cluster_* series are there), with peers
// that announce and watch a namespace, register over /rendezvous/1.0.0, open
// and close a relay circuit, and run into a view limit, a reservation limit
// and a circuit request without a reservation, so that the labelled series
// the panels select exist. Every metric name must be exposed (a histogram's
// as _bucket, _sum or _count), every matcher's label must be one of the
// metric's, and every equality matcher's value one it has. The alert
// expressions of docs/dashboard.md are held to the same.
func TestEveryDashboardQueryNamesSeriesTheNodeExposes(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 20 {
		t.Fatalf("only %d queries found in %s", len(queries), dashboardFile)
	}
	queries = append(queries, alertQueries(t)...)

	cfgs := embeddedClusterConfigs(t, 2)
	cfgs[0].WSStar.MaxViews = 2
	cfgs[0].Relay.MaxReservations = 2
	// A WebRTC-direct listener, for the series that exist only with one.
	cfgs[0].Listen = append(cfgs[0].Listen, fmt.Sprintf("/ip4/127.0.0.1/udp/%d/webrtc-direct", freeUDPPort(t)))
	// AutoTLS for its series; on loopback only the client never asks the
	// forge (no public address).
	cfgs[0].AutoTLS.Enabled = true
	n, peerNode := startNode(t, cfgs[0]), startNode(t, cfgs[1])
	waitReady(t, n, peerNode)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// Two browser-style members of one namespace: the second's join reaches
	// the first's view in a flushed batch.
	a, _ := liveMember(t, n, "room")
	serveEcho(a)
	_, bc := liveMember(t, n, "room")

	// A third peer: its reservation and its view are over the limits, and
	// its circuits go to a and to a peer without a reservation.
	other := testhost.NewClient(t)
	if _, err := reserveErr(ctx, other, n); err == nil {
		t.Fatal("a third reservation was granted over relay.max_reservations = 2")
	}
	wc, err := wsstar.Dial(ctx, other, n.Host.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	if _, err := wc.Join(ctx, "room", false, 0); err == nil {
		t.Fatal("a third view was accepted over wsstar.max_views = 2")
	}
	circuitTo := func(p peer.ID) (*peer.AddrInfo, error) {
		dst, err := ma.NewMultiaddr(circuitAddr(t, n).String() + "/p2p/" + p.String())
		if err != nil {
			return nil, err
		}
		return peer.AddrInfoFromP2pAddr(dst)
	}
	info, err := circuitTo(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Connect(ctx, *info); err != nil {
		t.Fatalf("dial a through the relay: %v", err)
	}
	echoThrough(t, ctx, other, a.ID(), 16<<10)
	if err := other.Network().ClosePeer(a.ID()); err != nil {
		t.Fatal(err)
	}
	nobody := testhost.NewClient(t)
	if info, err = circuitTo(nobody.ID()); err != nil {
		t.Fatal(err)
	}
	if err := other.Connect(ctx, *info); err == nil {
		t.Fatal("a circuit to a peer without a reservation was opened")
	}

	// A REGISTER and a DISCOVER over /rendezvous/1.0.0, and a member leaving.
	reg := testhost.New(t)
	testhost.Connect(t, reg, n.Host)
	rc := rendezvous.NewClient(reg, n.Host.ID())
	if _, err := rc.Register(ctx, "board", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rc.Discover(ctx, "board", 10, nil); err != nil {
		t.Fatal(err)
	}
	if err := bc.Leave("room"); err != nil {
		t.Fatal(err)
	}
	// A peer that disconnects, for the swarm's closed-connection counter.
	if err := reg.Network().ClosePeer(n.Host.ID()); err != nil {
		t.Fatal(err)
	}

	// Some series appear asynchronously (a circuit's close is counted when
	// the relay's copy loops end): check until all pass or the deadline.
	url := httpBase(t, n) + "/metrics"
	deadline := time.After(30 * time.Second)
	var failures []string
	for {
		code, body := get(t, url)
		if code != 200 {
			t.Fatalf("GET /metrics: %d", code)
		}
		exp, err := parseExposition(body)
		if err != nil {
			t.Fatalf("/metrics: %v", err)
		}
		failures = failures[:0]
		for _, q := range queries {
			sels, err := promqlSelectors(q.expr)
			if err != nil {
				t.Fatalf("%s: %v", q.where, err)
			}
			if len(sels) == 0 {
				failures = append(failures, fmt.Sprintf("%s: no metric in %q", q.where, q.expr))
			}
			for _, s := range sels {
				if prometheusSeries[s.metric] {
					continue
				}
				if err := checkSelector(s, exp); err != nil {
					failures = append(failures, fmt.Sprintf("%s: %v", q.where, err))
				}
			}
		}
		if len(failures) == 0 {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("the dashboard selects series the node does not expose:\n%s", strings.Join(failures, "\n"))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
