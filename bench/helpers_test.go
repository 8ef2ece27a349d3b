package bench

import (
	"context"
	"testing"
	"time"
)

// startNode starts the real node in this process for a test.
func startNode(t *testing.T) *Target {
	t.Helper()
	tg, err := StartTarget(t.Context(), TargetOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	return tg
}

// runCtx bounds a scenario in a test.
func runCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func figure(t *testing.T, r *Report, name string) Figure {
	t.Helper()
	f, ok := r.Figure(name)
	if !ok {
		t.Fatalf("report has no figure %q", name)
	}
	return f
}
