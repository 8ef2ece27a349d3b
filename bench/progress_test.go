package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/nodeproc"
)

func TestProgressWritesPeriodicLinesToANonTerminalAndStopsWhenDone(t *testing.T) {
	out := nodeproc.NewTail(64 << 10)
	p := newProgress(out, "bench: capacity", false, 20*time.Millisecond)
	task := p.Count("ramp", 10, "peers")
	for range 4 {
		task.Add(1)
		time.Sleep(30 * time.Millisecond)
	}
	task.Fail()
	task.Done()
	task.Done() // a second Done writes nothing more
	ended := out.String()
	time.Sleep(100 * time.Millisecond)
	if after := out.String(); after != ended {
		t.Fatalf("lines written after Done:\n%s", strings.TrimPrefix(after, ended))
	}
	if strings.Contains(ended, "\r") {
		t.Errorf("carriage return written to a non-terminal:\n%q", ended)
	}
	lines := strings.Split(strings.TrimSuffix(ended, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("want periodic lines and a final one, got:\n%s", ended)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "bench: capacity: ramp ") || !strings.Contains(l, "/10 peers") || !strings.Contains(l, "/s") {
			t.Errorf("periodic line %q lacks the phase, count or rate", l)
		}
	}
	if !strings.Contains(ended, "ETA ") {
		t.Errorf("no ETA in:\n%s", ended)
	}
	last := lines[len(lines)-1]
	// Ended with 5 of 10 accounted for: stopped, not done.
	if !strings.HasPrefix(last, "bench: capacity: ramp stopped: 4/10 peers in ") || !strings.Contains(last, "1 failed") {
		t.Errorf("final line = %q", last)
	}
}

func TestProgressSaysDoneWhenEveryItemIsAccountedFor(t *testing.T) {
	out := nodeproc.NewTail(64 << 10)
	task := newProgress(out, "", false, time.Hour).Count("probes", 3, "joined")
	task.Add(2)
	task.Fail()
	task.Done()
	if got := out.String(); !strings.HasPrefix(got, "probes done: 2/3 joined in ") || !strings.Contains(got, ", 1 failed") || strings.Count(got, "\n") != 1 {
		t.Errorf("output %q, want one final line", got)
	}
}

func TestProgressOnATerminalRewritesOneLine(t *testing.T) {
	out := nodeproc.NewTail(64 << 10)
	p := newProgress(out, "bench", true, 10*time.Millisecond)
	if err := p.With("sweep").Sleep(t.Context(), "idle window", 80*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "\r") < 3 {
		t.Errorf("want the line rewritten in place, got %q", s)
	}
	// Only the final line ends with a newline: updates replace each other.
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("want one finished line, got %q", s)
	}
	if !strings.Contains(s, "bench: sweep: idle window ") || !strings.Contains(s, "/80ms") {
		t.Errorf("no idle window progress in %q", s)
	}
	if !strings.Contains(s, "\rbench: sweep: idle window done: ") {
		t.Errorf("no final line in %q", s)
	}
}

func TestNilProgressReportsNothing(t *testing.T) {
	var p *Progress
	task := p.With("x").Count("ramp", 3, "peers")
	task.Add(1)
	task.Fail()
	task.Done()
	p.Logf("nothing %d", 1)
	if err := p.Sleep(t.Context(), "idle", time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
