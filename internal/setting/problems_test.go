package setting

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMergePrefixesPathsAndKeepsTheFirstProblemOfAPath(t *testing.T) {
	var inner Problems
	inner.IntRange("max_peers", 0, 1, 1024)
	inner.DurRange("flush_interval", Duration(time.Millisecond), 10*time.Millisecond, 10*time.Second, "")
	var ps Problems
	ps.Add("wsstar.max_peers", "0", "first")
	ps.Merge("wsstar.", fmt.Errorf("wsstar: %w", inner.Err()))
	want := Problems{
		{"wsstar.max_peers", "0", "first"},
		{"wsstar.flush_interval", `"1ms"`, "must be at least 10ms"},
	}
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", ps, want)
	}
}

func TestErrIsNilWithoutProblemsAndListsThemAll(t *testing.T) {
	var ps Problems
	if ps.Err() != nil {
		t.Fatal("Err of no problems is not nil")
	}
	ps.Rate("join_rate", 0)
	ps.IntAtLeast("n", -1, 0, "0 means no cap")
	err := ps.Err()
	var got Problems
	if !errors.As(err, &got) || len(got) != 2 {
		t.Fatalf("Err = %v", err)
	}
	const want = "join_rate: 0: must be greater than 0 (events per second); n: -1: must be at least 0 (0 means no cap)"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}
