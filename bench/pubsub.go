package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/promtext"
	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/protocols/pubsub"
)

// PubsubOptions sizes the pubsub scenario.
type PubsubOptions struct {
	// Peers is the number of subscribers, all on one discovery topic.
	Peers int
	// Topic is the discovery topic (default pubsub-peer-discovery's).
	Topic string
	// Interval is how often every app announces itself
	// (pubsub-peer-discovery's default: 10 s).
	Interval time.Duration
	// AnnounceInterval and PerInterval are the node's announce_interval and
	// announcements_per_interval (default: the node's defaults); the
	// learning figures are counted in these intervals.
	AnnounceInterval time.Duration
	PerInterval      int
	// Windows is the number of announce intervals over which what the
	// subscribers learn, and the node's cost, are measured (at least 3).
	Windows int
	// Probes is the number of newcomers subscribing after the window, each
	// followed for three intervals from its start.
	Probes int
	// PingEvery makes every app open a ping stream to the node this often
	// from the end of the ramp, as js-libp2p does in a browser; 0 none.
	PingEvery time.Duration
	// Verify makes the apps verify the signatures of the messages they
	// receive (see subscriberOptions.verify); it costs the generator only.
	Verify bool
	// Concurrency is the number of start-ups in flight.
	Concurrency int
	// Keys is a file of peer keys to reuse ("" generates them).
	Keys string
	// StepTimeout bounds one app's start-up.
	StepTimeout time.Duration
	// Start returns the node of one part of the run: "pubsub" (the
	// subscribers) and, with Compare, "ws-star" (the comparison). The
	// scenario closes it when that part is done.
	Start func(ctx context.Context, part string) (*Target, error)
	// Compare also measures the same number of /ws-star/1.0.0 members in one
	// namespace, with the same pings, on a fresh node (the capacity
	// scenario with --ns-size 0), for the CPU and memory ratios.
	Compare bool
	// Progress receives the phases as they run; nil reports none.
	Progress *Progress
}

func (o *PubsubOptions) defaults() {
	if o.Peers <= 0 {
		o.Peers = 1000
	}
	if o.Topic == "" {
		o.Topic = pubsub.DiscoveryTopic
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.AnnounceInterval <= 0 {
		o.AnnounceInterval = pubsub.DefaultAnnounceInterval
	}
	if o.PerInterval <= 0 {
		o.PerInterval = pubsub.DefaultAnnouncementsPerInterval
	}
	o.Windows = max(o.Windows, 3)
	o.Probes = max(o.Probes, 0)
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 60 * time.Second
	}
}

// PubsubConfig changes the bench configuration of a node the tool starts
// for the pubsub scenarios: announce_interval set to d when d > 0 (a flag
// asks for it), the node's default otherwise.
func PubsubConfig(d time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		if d > 0 {
			c.Pubsub.AnnounceInterval = setting.Duration(d)
		}
	}
}

// learnedQuantiles are the figures of one learning count over subscribers.
var learnedQuantiles = []struct {
	name string
	q    float64
}{{"p50", 0.5}, {"p10", 0.1}, {"min", 0}}

// generatorGCPercent is the generator's GC target during a pubsub run
// against a node process.
const generatorGCPercent = 400

// Pubsub ramps o.Peers apps onto one discovery topic and measures what each
// learns from the node's announcements, and the node's cost, over
// o.Windows announce intervals; then newcomers; then, with o.Compare, the
// same number of ws-star members.
func Pubsub(ctx context.Context, o PubsubOptions) (*Report, error) {
	o.defaults()
	if o.Start == nil {
		return nil, errors.New("bench: the pubsub scenario needs a way to start the node")
	}
	t, err := o.Start(ctx, "pubsub")
	if err != nil {
		return nil, err
	}
	r, err := pubsubRun(ctx, t, o)
	if cerr := t.Close(); cerr != nil {
		o.Progress.Logf("stopping the node: %v", cerr)
	}
	if err != nil || !o.Compare {
		return finishOrNil(r), err
	}
	if err := o.compare(ctx, r); err != nil {
		return r.finish(), err
	}
	return r.finish(), nil
}

func finishOrNil(r *Report) *Report {
	if r == nil {
		return nil
	}
	return r.finish()
}

// pubsubRun is the scenario's pubsub part against t.
func pubsubRun(ctx context.Context, t *Target, o PubsubOptions) (*Report, error) {
	r := newReport("pubsub", t.Kind, map[string]any{
		"peers": o.Peers, "topic": o.Topic, "interval": o.Interval.String(), "announce_interval": o.AnnounceInterval.String(),
		"announcements_per_interval": o.PerInterval, "windows": o.Windows, "probes": o.Probes,
		"ping_every": o.PingEvery.String(), "verify": o.Verify, "concurrency": o.Concurrency, "compare": o.Compare,
	})
	gen := SelfSampler{}
	if !t.Shared {
		// CPU, not memory, limits how many apps one machine runs: the
		// generator collects garbage four times less often (a node in this
		// process keeps the default).
		defer debug.SetGCPercent(debug.SetGCPercent(generatorGCPercent))
	}
	kt := time.Now()
	keys, err := Keys(o.Keys, o.Peers+o.Probes)
	if err != nil {
		return nil, err
	}
	ix, err := newPubsubIndex(keys, t.Info)
	if err != nil {
		return nil, err
	}
	r.addMs("generator: key load/generation", time.Since(kt))
	// Every app announces itself at its start, then every interval.
	so := subscriberOptions{topic: o.Topic, verify: o.Verify, every: o.Interval, step: o.StepTimeout}
	base, _ := sample(t.Node)
	genBase, _ := gen.Sample()

	all := make([]atomic.Pointer[subscriber], o.Peers+o.Probes)
	var (
		times    startupTimes
		failures atomic.Int64
		errMu    sync.Mutex
		firstErr error
	)
	start := func(i int, prog *Task) *subscriber {
		s, err := startSubscriber(ctx, ix, int32(i), keys[i], t.Info, so, &times)
		if err != nil {
			failures.Add(1)
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			errMu.Unlock()
			prog.Fail()
			return nil
		}
		all[i].Store(s)
		prog.Add(1)
		return s
	}
	live := func(from, to int) []*subscriber {
		var out []*subscriber
		for i := from; i < to; i++ {
			if s := all[i].Load(); s != nil {
				out = append(out, s)
			}
		}
		return out
	}
	defer func() {
		subs := live(0, len(all))
		cp := o.Progress.Count("closing", len(subs), "apps")
		forEach(len(subs), o.Concurrency, func(i int) { subs[i].close(); cp.Add(1) })
		cp.Done()
	}()

	t0 := time.Now()
	rp := o.Progress.Count("ramp", o.Peers, "subscribers")
	forEach(o.Peers, o.Concurrency, func(i int) {
		if ctx.Err() == nil {
			start(i, rp)
		}
	})
	rp.Done()
	took := time.Since(t0)
	subs := live(0, o.Peers)
	n := len(subs)
	r.add("subscribers connected", float64(n), "apps")
	f := r.add("subscribers failed", float64(failures.Load()), "apps")
	if firstErr != nil {
		f.note("first: " + oneLine(firstErr))
	}
	if n == 0 {
		return r, fmt.Errorf("bench: no app could connect, reserve and subscribe: %v", firstErr)
	}
	r.add("ramp time", took.Seconds(), "s")
	r.add("ramp rate", float64(n)/took.Seconds(), "apps/s")
	r.addQuantiles("connect+reserve+subscribe+announce", &times.total)
	r.addQuantiles("  connect (incl. identify)", &times.connect)
	r.addQuantiles("  reserve", &times.reserve)
	sa, _ := r.addQuantiles("  subscribe+announce", &times.subscribe)
	sa.note("until the node is among the topic's peers, then the first announcement")

	targets := make([]pingTarget, n)
	for i, s := range subs {
		targets[i] = pingTarget{h: s.h, node: s.node}
	}
	pings := startPings(ctx, targets, o.PingEvery)
	defer pings.close()

	// The node has every app as a subscriber and a member.
	if t.MetricsURL != "" {
		settled := time.Now()
		subsSeen, members := o.settle(ctx, t, n)
		o.Progress.Logf("settle: the node counts %.0f subscribers and %.0f members of %d after %s", subsSeen, members, n, time.Since(settled).Round(time.Millisecond))
		r.add("node subscribers", subsSeen, "apps").target(fmt.Sprintf("= %d", n), float64(n), false).
			note("rendezvous_pubsub_subscribers of the topic")
		r.add("node pubsub members", members, "apps").target(fmt.Sprintf("= %d", n), float64(n), false).
			note("rendezvous_pubsub_members")
	} else if err := sleep(ctx, time.Second); err != nil {
		return r, err
	}

	// The learning window, which is also the idle window: every app
	// announcing, pinging and hearing the node's announcements.
	window := time.Duration(o.Windows) * o.AnnounceInterval
	m0 := scrapePubsub(t, o.Topic)
	na, nerr := sample(t.Node)
	ga, _ := gen.Sample()
	mark := time.Now()
	for _, s := range subs {
		s.learn.reset(mark)
	}
	sentBefore := pings.sent.Load()
	if err := o.Progress.Sleep(ctx, "learning window", window); err != nil {
		return r, err
	}
	received := make([]int, len(subs))
	for i, s := range subs {
		received[i] = int(s.learn.received.Load())
	}
	nb, _ := sample(t.Node)
	gb, _ := gen.Sample()
	m1 := scrapePubsub(t, o.Topic)
	o.reportLearning(r, subs, n, "", nil, "from the window's start")
	o.reportWindow(r, subs, received, m0, m1)

	if o.PingEvery > 0 {
		want := float64(n) / o.PingEvery.Seconds()
		r.add("ping streams, window", float64(pings.sent.Load()-sentBefore)/window.Seconds(), "/s").
			target(fmt.Sprintf(">= %.0f (90 %% of %.0f)", 0.9*want, want), 0.9*want, false).
			note(fmt.Sprintf("every app every %s; %d pings failed or skipped over the run; fewer: the machine does not keep up", o.PingEvery, pings.failed.Load()))
	}
	cpu, rss, perPeer, gor := math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if nerr == nil && t.Node != nil {
		cpu = CPUPercent(na, nb)
		rss = float64(nb.RSS) / (1 << 20)
		perPeer = (float64(nb.RSS) - float64(base.RSS)) / float64(n) / 1024
		if nb.Goroutines >= 0 {
			gor = float64(nb.Goroutines)
		}
	}
	shared := ""
	if t.Shared {
		shared = "in-process node: includes the generator"
	}
	r.add("node CPU, idle subscribers", cpu, "% of 1 core").note(shared)
	r.add("node CPU per 1,000 idle subscribers", cpu*1000/float64(n), "% of 1 core").note(shared)
	r.add("node RSS, idle subscribers", rss, "MiB").note(shared)
	r.add("node RSS per subscriber", perPeer, "KiB").note(shared)
	r.add("node goroutines", gor, "").note(shared)
	r.add("generator CPU, window", CPUPercent(ga, gb), "% of 1 core")
	r.add("generator RSS", float64(gb.RSS)/(1<<20), "MiB")
	r.add("generator RSS per app", (float64(gb.RSS)-float64(genBase.RSS))/float64(n)/1024, "KiB")

	if o.Probes > 0 {
		if err := o.newcomers(ctx, r, all, start, live, n); err != nil {
			return r, err
		}
	}
	r.add("generator CPU, whole run", func() float64 { s, _ := gen.Sample(); return (s.CPU - genBase.CPU).Seconds() }(), "s")
	return r, nil
}

// settle waits up to 30 s for the node to count n subscribers of the topic
// and n pubsub members, and returns the last counts seen.
func (o PubsubOptions) settle(ctx context.Context, t *Target, n int) (subs, members float64) {
	subs, members = math.NaN(), math.NaN()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fams, err := scrapeMetrics(t.MetricsURL); err == nil {
			subs, _ = fams.SumOf(promtext.Series{Name: "rendezvous_pubsub_subscribers", Labels: []string{"topic", o.Topic}})
			members, _ = fams.SumOf(promtext.Series{Name: "rendezvous_pubsub_members"})
			if subs == float64(n) && members == float64(n) {
				return subs, members
			}
		}
		if time.Now().After(deadline) || sleep(ctx, 500*time.Millisecond) != nil {
			return subs, members
		}
	}
}

// pubsubCounts are the node's pubsub counters at one moment.
type pubsubCounts struct {
	ok bool
	// at is the middle of the scrape: the node reads its counters while
	// answering, and a scrape of a node with thousands of peers takes a while.
	at        time.Time
	published float64
	results   map[string]float64 // rendezvous_pubsub_messages_total of the topic, by result
	other     map[string]float64 // the same for topics the node does not serve
}

func scrapePubsub(t *Target, topic string) pubsubCounts {
	c := pubsubCounts{results: make(map[string]float64), other: make(map[string]float64)}
	if t.MetricsURL == "" {
		return c
	}
	t0 := time.Now()
	fams, err := scrapeMetrics(t.MetricsURL)
	if err != nil {
		return c
	}
	c.ok, c.at = true, t0.Add(time.Since(t0)/2)
	c.published, _ = fams.SumOf(promtext.Series{Name: "rendezvous_pubsub_announcements_total", Labels: []string{"topic", topic}})
	for _, res := range pubsubResults {
		c.results[res], _ = fams.SumOf(promtext.Series{Name: "rendezvous_pubsub_messages_total", Labels: []string{"result", res, "topic", topic}})
		c.other[res], _ = fams.SumOf(promtext.Series{Name: "rendezvous_pubsub_messages_total", Labels: []string{"result", res, "topic", pubsub.OtherTopic}})
	}
	return c
}

// pubsubResults are the results of rendezvous_pubsub_messages_total.
var pubsubResults = []string{
	string(pubsub.Announced), string(pubsub.Junk), string(pubsub.Forged), string(pubsub.BadSignature),
	string(pubsub.OverRate), string(pubsub.Indirect), string(pubsub.Unserved), string(pubsub.Throttled),
}

// reportLearning adds what subscribers learned within 1, 2 and 3 intervals
// of their marks, with the targets: a topic of 64 or fewer, every other
// subscriber within two intervals; a larger one, at least 64 within three.
// from gives each subscriber's start of counting after its mark (nil: the
// mark).
func (o PubsubOptions) reportLearning(r *Report, subs []*subscriber, topicSize int, prefix string, from func(*subscriber) time.Duration, what string) {
	others := topicSize - 1
	for k := 1; k <= 3; k++ {
		counts := make([]int, len(subs))
		for i, s := range subs {
			var start time.Duration
			if from != nil {
				start = from(s)
			}
			counts[i] = s.learn.within(start + time.Duration(k)*o.AnnounceInterval)
		}
		slices.Sort(counts)
		for _, q := range learnedQuantiles {
			f := r.add(fmt.Sprintf("%slearned within %d intervals %s", prefix, k, q.name), float64(nearestRank(counts, q.q)), "peers").
				note(fmt.Sprintf("distinct other subscribers heard, of %d, %s", others, what))
			if q.name != "min" {
				continue
			}
			switch {
			case topicSize <= 64 && k == 2:
				f.target(fmt.Sprintf(">= %d (every other)", others), float64(others), false)
			case topicSize > 64 && k == 3:
				f.target(">= 64", 64, false)
			}
		}
	}
}

// nearestRank is the q-quantile of sorted counts (0 for none).
func nearestRank(sorted []int, q float64) int {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// reportWindow adds whether subscribers keep learning new peers, the
// deliveries per subscriber, and the node's counters over the window.
// received are the subscribers' announcements received over the window.
func (o PubsubOptions) reportWindow(r *Report, subs []*subscriber, received []int, m0, m1 pubsubCounts) {
	last := time.Duration(o.Windows) * o.AnnounceInterval
	var fresh []int
	knowAll := 0
	var wrong, strangers, outsiders int64
	for _, s := range subs {
		wrong += s.learn.wrong.Load()
		strangers += s.learn.strangers.Load()
		outsiders += s.learn.outsiders.Load()
		if s.learn.everCount() >= len(subs)-1 {
			knowAll++
			continue
		}
		fresh = append(fresh, s.learn.newBetween(last-o.AnnounceInterval, last))
	}
	slices.Sort(fresh)
	slices.Sort(received)
	what := fmt.Sprintf("peers never heard before, in interval %d of the window", o.Windows)
	if len(fresh) == 0 {
		r.add("new peers in the last interval, min", math.NaN(), "peers").
			note(fmt.Sprintf("every subscriber knows every other (%d)", knowAll))
	} else {
		r.add("new peers in the last interval, p50", float64(nearestRank(fresh, 0.5)), "peers").note(what)
		r.add("new peers in the last interval, min", float64(nearestRank(fresh, 0)), "peers").
			target(">= 1 (keeps learning)", 1, false).
			note(fmt.Sprintf("%s; over the %d subscribers that do not know every other yet", what, len(fresh)))
	}
	perInterval := func(v int) float64 { return float64(v) / float64(o.Windows) }
	// A burst of the node's announcements on the window's edge.
	_, perBurst := pubsub.Limits{AnnounceInterval: setting.Duration(o.AnnounceInterval), AnnouncementsPerInterval: o.PerInterval}.AnnounceSchedule()
	edge := float64(perBurst) / float64(o.Windows)
	r.add("announcements received per subscriber per interval, p50", perInterval(nearestRank(received, 0.5)), "msgs")
	r.add("announcements received per subscriber per interval, max", perInterval(nearestRank(received, 1)), "msgs").
		target(fmt.Sprintf("<= %d", o.PerInterval), float64(o.PerInterval)+edge, true).
		note(fmt.Sprintf("the node's bound, whatever the topic's size (+%.1f: a burst of %d on the window's edge)", edge, perBurst))
	r.add("announcements with other addresses than announced", float64(wrong), "msgs").target("= 0", 0, true)
	r.add("announcements of unknown or undecodable keys", float64(strangers+outsiders), "msgs").target("= 0", 0, true)
	if !m0.ok || !m1.ok {
		return
	}
	intervals := m1.at.Sub(m0.at).Seconds() / o.AnnounceInterval.Seconds()
	r.add("node announcements published per interval", (m1.published-m0.published)/intervals, "msgs").
		target(fmt.Sprintf("<= %d", o.PerInterval), float64(o.PerInterval)+float64(perBurst)/intervals, true).
		note(fmt.Sprintf("over %.1f intervals between two scrapes; a burst of %d on the edge allowed", intervals, perBurst))
	for _, res := range pubsubResults {
		d := m1.results[res] - m0.results[res]
		if res == string(pubsub.Announced) {
			// Each app announces at its start and every interval after.
			expected := 0
			for _, s := range subs {
				expected += periodsUntil(s.up, m1.at, o.Interval) - periodsUntil(s.up, m0.at, o.Interval)
			}
			secs := m1.at.Sub(m0.at).Seconds()
			want := float64(expected) / secs
			r.add("apps' announcements accepted", d/secs, "/s").
				target(fmt.Sprintf(">= %.1f (90 %% of %.1f)", 0.9*want, want), 0.9*want, false).
				note(fmt.Sprintf("%d apps every %s, %d announcements due between the two scrapes; fewer: announcements lost or the machine does not keep up", len(subs), o.Interval, expected))
			continue
		}
		if d != 0 {
			r.add("apps' messages counted "+res, d, "msgs").note("over the window")
		}
	}
}

// periodsUntil is the number of whole periods from start to t (0 before).
func periodsUntil(start, t time.Time, period time.Duration) int {
	if t.Before(start) {
		return 0
	}
	return int(t.Sub(start) / period)
}

// everCount is the number of peers ever heard.
func (l *learner) everCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, w := range l.ever {
		n += popcount(w)
	}
	return n
}

func popcount(w uint64) int {
	n := 0
	for ; w != 0; w &= w - 1 {
		n++
	}
	return n
}

// newcomers starts o.Probes more apps at once and reports what they learned
// within 1, 2 and 3 intervals of their start.
func (o PubsubOptions) newcomers(ctx context.Context, r *Report, all []atomic.Pointer[subscriber], start func(int, *Task) *subscriber, live func(int, int) []*subscriber, n int) error {
	pp := o.Progress.Count("newcomers", o.Probes, "subscribers")
	forEach(o.Probes, o.Concurrency, func(i int) {
		if ctx.Err() == nil {
			start(o.Peers+i, pp)
		}
	})
	pp.Done()
	probes := live(o.Peers, o.Peers+o.Probes)
	if len(probes) == 0 {
		r.add("newcomers up", 0, "apps").target(fmt.Sprintf("= %d", o.Probes), float64(o.Probes), false)
		return nil
	}
	var lastUp time.Time
	for _, p := range probes {
		if p.up.After(lastUp) {
			lastUp = p.up
		}
	}
	wait := time.Until(lastUp.Add(3*o.AnnounceInterval + 200*time.Millisecond))
	if err := o.Progress.Sleep(ctx, "newcomers listening", wait); err != nil {
		return err
	}
	r.add("newcomers up", float64(len(probes)), "apps").target(fmt.Sprintf("= %d", o.Probes), float64(o.Probes), false)
	// Counted from when each was subscribed (the node among its topic's
	// peers, its first announcement sent): what the node does, not how long
	// the machine took to connect it. Heard earlier counts too.
	o.reportLearning(r, probes, n+len(probes), "newcomers: ", func(s *subscriber) time.Duration {
		return max(s.up.Sub(s.learn.markTime()), 0)
	}, "from its subscription")
	return nil
}

func (l *learner) markTime() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mark
}

// compare runs the capacity scenario with the same number of ws-star
// members in one namespace, the same pings and window, on the "ws-star"
// node, and adds the ratios.
func (o PubsubOptions) compare(ctx context.Context, r *Report) error {
	cpu, _ := r.Figure("node CPU per 1,000 idle subscribers")
	rss, _ := r.Figure("node RSS per subscriber")
	n, _ := r.Figure("subscribers connected")
	o.Progress.Logf("comparison: %d ws-star members in one namespace", int(n.Value))
	t, err := o.Start(ctx, "ws-star")
	if err != nil {
		return err
	}
	defer func() {
		if err := t.Close(); err != nil {
			o.Progress.Logf("stopping the comparison node: %v", err)
		}
	}()
	cr, err := Capacity(ctx, t, CapacityOptions{
		Peers: int(n.Value), NSSize: 0, Probes: 2, Idle: time.Duration(o.Windows) * o.AnnounceInterval,
		Concurrency: o.Concurrency, Keys: o.Keys, PingEvery: o.PingEvery, StepTimeout: o.StepTimeout,
		Progress: o.Progress.With("ws-star"),
	})
	if err != nil {
		return fmt.Errorf("bench: ws-star comparison: %w", err)
	}
	what := fmt.Sprintf("capacity, %d ws-star members in one namespace, same pings and window", int(n.Value))
	wcpu, _ := cr.Figure("node CPU per 1,000 idle peers")
	wrss, _ := cr.Figure("node RSS per peer")
	wup, _ := cr.Figure("peers connected")
	r.add("ws-star members connected", wup.Value, "peers").note(what)
	if o.PingEvery > 0 {
		wp, _ := cr.Figure("ping streams, idle window")
		want := wup.Value / o.PingEvery.Seconds()
		r.add("ws-star: ping streams, idle window", wp.Value, "/s").
			target(fmt.Sprintf(">= %.0f (90 %% of %.0f)", 0.9*want, want), 0.9*want, false).note(wp.Note)
	}
	r.add("ws-star: node CPU per 1,000 idle members", wcpu.Value, wcpu.Unit).note(what)
	r.add("ws-star: node RSS per member", wrss.Value, wrss.Unit).note(what)
	r.add("node CPU per 1,000: pubsub / ws-star", cpu.Value/wcpu.Value, "x").target("<= 2", 2, true)
	r.add("node RSS per peer: pubsub / ws-star", rss.Value/wrss.Value, "x")
	return nil
}

// PubsubSizes runs the pubsub scenario at each size in turn, o.Start giving
// each part of each size its node (a fresh one, when it starts them), and
// returns one report: each size's figures prefixed "N=<size>: ", then the
// rows across sizes. One size gives that size's report unchanged. When a size
// fails, the sizes done so far are returned with the error.
func PubsubSizes(ctx context.Context, sizes []int, o PubsubOptions) (*Report, error) {
	if len(sizes) == 1 {
		o.Peers = sizes[0]
		return Pubsub(ctx, o)
	}
	o.defaults()
	r := newReport("pubsub", "", map[string]any{
		"sizes": sizes, "topic": o.Topic, "interval": o.Interval.String(), "announce_interval": o.AnnounceInterval.String(),
		"announcements_per_interval": o.PerInterval, "windows": o.Windows, "probes": o.Probes,
		"ping_every": o.PingEvery.String(), "verify": o.Verify, "concurrency": o.Concurrency, "compare": o.Compare,
	})
	start := o.Start
	var per1k, ratio []float64
	var per1kNotes []string
	for i, n := range sizes {
		so := o
		so.Peers = n
		so.Progress = o.Progress.With(fmt.Sprintf("%d subscribers (%d/%d)", n, i+1, len(sizes)))
		so.Start = func(ctx context.Context, part string) (*Target, error) {
			return start(ctx, fmt.Sprintf("%d-%s", n, part))
		}
		sr, err := Pubsub(ctx, so)
		if sr != nil {
			r.Node = sr.Node
			for _, f := range sr.Figures {
				f.Name = fmt.Sprintf("N=%d: %s", n, f.Name)
				r.Figures = append(r.Figures, f)
			}
		}
		if err != nil {
			return r.finish(), fmt.Errorf("pubsub at %d subscribers: %w", n, err)
		}
		if f, ok := sr.Figure("node CPU per 1,000 idle subscribers"); ok && !math.IsNaN(f.Value) {
			per1k = append(per1k, f.Value)
			per1kNotes = append(per1kNotes, fmt.Sprintf("%d: %.2f", n, f.Value))
		}
		if f, ok := sr.Figure("node CPU per 1,000: pubsub / ws-star"); ok && !math.IsNaN(f.Value) {
			ratio = append(ratio, f.Value)
		}
		debug.FreeOSMemory()
	}
	if len(per1k) == len(sizes) {
		r.add("node CPU per 1,000 idle subscribers, max / min over sizes", slices.Max(per1k)/slices.Min(per1k), "x").
			target("<= 1.5 (flat)", 1.5, true).note(strings.Join(per1kNotes, "; "))
	}
	if len(ratio) == len(sizes) {
		r.add("node CPU per 1,000: pubsub / ws-star, max over sizes", slices.Max(ratio), "x").target("<= 2", 2, true)
	}
	return r.finish(), nil
}
