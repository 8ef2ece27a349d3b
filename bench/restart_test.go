package bench

import (
	"testing"
	"time"
)

func TestRestartedNodeGetsEveryMemberBackOnItsOwn(t *testing.T) {
	bin := nodeBinary(t)
	for _, kill := range []bool{false, true} {
		name := "SIGTERM"
		if kill {
			name = "SIGKILL"
		}
		t.Run(name, func(t *testing.T) {
			tg, err := StartTarget(t.Context(), TargetOptions{Binary: bin, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tg.Close() })
			r, err := Restart(runCtx(t, 90*time.Second), tg, RestartOptions{
				Peers: 20, NSSize: 10, Kill: kill, Concurrency: 8, Within: 40 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := figure(t, r, "members rejoined").Value; got != 20 {
				t.Errorf("members rejoined = %v, want 20", got)
			}
			if got := figure(t, r, "registrations after").Value; got != 20 {
				t.Errorf("registrations on the restarted node = %v, want 20", got)
			}
			shut := figure(t, r, "views closed with SHUTDOWN").Value
			if !kill && shut != 20 {
				t.Errorf("views closed with SHUTDOWN = %v, want 20", shut)
			}
			if kill && shut != 0 {
				t.Errorf("a killed node sent SHUTDOWN to %v views", shut)
			}
		})
	}
}
