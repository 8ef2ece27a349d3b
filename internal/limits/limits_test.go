package limits

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRefusalsAreCountedEachAndWarnedOncePerMinutePerLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		reg := prometheus.NewRegistry()
		r, err := New(slog.New(slog.NewTextHandler(&logs, nil)), reg)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for range 5 {
			r.Refused(Views)
		}
		r.Refused(JoinRate)
		if got := strings.Count(logs.String(), "level=WARN"); got != 2 {
			t.Fatalf("%d warnings for 2 limits, want 2:\n%s", got, logs.String())
		}
		time.Sleep(WarnEvery)
		r.Refused(Views)
		last := logs.String()[strings.LastIndex(strings.TrimSpace(logs.String()), "\n")+1:]
		if !strings.Contains(last, "limit=wsstar.max_views") || !strings.Contains(last, "refused=5") {
			t.Fatalf("warning after a minute = %q, want the limit and the 4 suppressed plus this one", last)
		}
		if got := testutil.ToFloat64(r.refusals.WithLabelValues(Views)); got != 6 {
			t.Fatalf("counter = %v, want 6", got)
		}
	})
}

func TestTextNamesTheLimit(t *testing.T) {
	if got := Text("registry full", Registrations); got != "registry full (registry.max_registrations)" {
		t.Fatal(got)
	}
}
