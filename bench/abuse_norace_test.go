//go:build !race

package bench

import (
	"testing"
	"time"
)

// Under the race detector the churn that must fill 50 yamux windows of
// 256 KiB runs several times slower than the node's deadlines assume, so this
// test runs in the suite's pass without it (see test.sh).
func TestStuckReadersAreEndedWhileHonestWatchersKeepUp(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the stuck readers' yamux windows")
	}
	r := runAbuse(t, "stuck-reader", AbuseOptions{Attackers: 60}, 60*time.Second)
	survived(t, r, "stuck-reader")
	if f := figure(t, r, "stuck-reader: stuck views not ended"); f.Value != 0 {
		t.Errorf("%v stuck views still open: %s", f.Value, f.Note)
	}
	if f := figure(t, r, "stuck-reader: honest views closed"); f.Value != 0 {
		t.Errorf("%v honest views closed (%s)", f.Value, f.Note)
	}
}
