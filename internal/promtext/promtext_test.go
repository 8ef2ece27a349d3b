package promtext

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const exposition = `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_goroutines_extra 7
# TYPE rendezvous_views gauge
rendezvous_views{ns="a"} 3
rendezvous_views{ns="b}"} 4.5
# TYPE rendezvous_cluster_writes_total counter
rendezvous_cluster_writes_total{result="ok",node="x"} 10
rendezvous_cluster_writes_total{result="ok",node="y"} 5
rendezvous_cluster_writes_total{result="failed",node="x"} 1
# TYPE rendezvous_wsstar_change_delay_seconds histogram
rendezvous_wsstar_change_delay_seconds_bucket{le="0.1"} 4
rendezvous_wsstar_change_delay_seconds_bucket{le="+Inf"} 5
rendezvous_wsstar_change_delay_seconds_sum 0.4
rendezvous_wsstar_change_delay_seconds_count 5
`

func TestSumAddsTheSamplesThatCarryTheGivenLabels(t *testing.T) {
	fams, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    Series
		want float64
		ok   bool
	}{
		{Series{Name: "go_goroutines"}, 42, true},
		{Series{Name: "rendezvous_views"}, 7.5, true},
		{Series{Name: "rendezvous_views", Labels: []string{"ns", "b}"}}, 4.5, true},
		{Series{Name: "rendezvous_cluster_writes_total", Labels: []string{"result", "ok"}}, 15, true},
		{Series{Name: "rendezvous_cluster_writes_total", Labels: []string{"result", "ok", "node", "y"}}, 5, true},
		{Series{Name: "rendezvous_cluster_writes_total", Labels: []string{"result", "deferred"}}, 0, false},
		{Series{Name: "rendezvous_wsstar_change_delay_seconds"}, 5, true},
		{Series{Name: "absent"}, 0, false},
		{Series{Name: "go_goroutines", Labels: []string{"odd"}}, 0, false},
	} {
		got, ok := fams.SumOf(c.s)
		if ok != c.ok || got != c.want {
			t.Errorf("%s = %v, %v; want %v, %v", c.s, got, ok, c.want, c.ok)
		}
	}
}

func TestSamplesNameAHistogramsSeriesAsPromQLDoes(t *testing.T) {
	fams, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	samples, err := fams.Samples()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range samples {
		seen[s.Name] = true
		if s.Name == "rendezvous_wsstar_change_delay_seconds_bucket" && s.Labels["le"] == "" {
			t.Errorf("bucket without le: %+v", s)
		}
	}
	for _, name := range []string{"go_goroutines", "rendezvous_views", "rendezvous_wsstar_change_delay_seconds_bucket",
		"rendezvous_wsstar_change_delay_seconds_sum", "rendezvous_wsstar_change_delay_seconds_count"} {
		if !seen[name] {
			t.Errorf("no %s series in %v", name, seen)
		}
	}
	if seen["rendezvous_wsstar_change_delay_seconds"] {
		t.Error("a histogram listed under its bare name")
	}
}

func TestSeriesIsWrittenAsInTheExposition(t *testing.T) {
	s := Series{Name: "rendezvous_resources_used", Labels: []string{"resource", "connections", "scope", "system"}}
	if got, want := s.String(), `rendezvous_resources_used{resource="connections",scope="system"}`; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestFetchRefusesAnErrorStatusAndMalformedText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			_, _ = w.Write([]byte(exposition))
		case "/garbage":
			_, _ = w.Write([]byte("go_goroutines{ 1\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	fams, err := Fetch(t.Context(), srv.Client(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := fams.Sum("go_goroutines"); !ok || v != 42 {
		t.Errorf("go_goroutines = %v, %v", v, ok)
	}
	for _, path := range []string{"/garbage", "/absent"} {
		if _, err := Fetch(t.Context(), srv.Client(), srv.URL+path); err == nil {
			t.Errorf("%s: fetched without an error", path)
		}
	}
}

func FuzzParseNeverPanicsAndSumsEveryFamilyWithSamples(f *testing.F) {
	f.Add([]byte("go_goroutines 42\n"))
	f.Add([]byte("go_goroutines{a=\"}\"} 1e3\ngo_goroutines NaN\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fams, err := Parse(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for name, fam := range fams {
			if _, ok := fams.Sum(name); ok != (len(fam.GetMetric()) > 0) {
				t.Fatalf("%s: summed %v with %d samples", name, ok, len(fam.GetMetric()))
			}
		}
	})
}
