package rendezvous

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeRegister records when it was called and answers from a script.
type fakeRegister struct {
	mu      sync.Mutex
	start   time.Time
	calls   []time.Duration // since start
	answers []error
	granted time.Duration
}

func (f *fakeRegister) register(context.Context) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.calls)
	f.calls = append(f.calls, time.Since(f.start))
	if n < len(f.answers) && f.answers[n] != nil {
		return 0, f.answers[n]
	}
	return f.granted, nil
}

func TestRefresherReRegistersAtEightyPercentOfGrantedTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRegister{start: time.Now(), granted: 100 * time.Second}
		r := startRefresher(t.Context(), f.register)
		<-r.Registered()
		time.Sleep(250 * time.Second)
		r.Stop()
		want := []time.Duration{0, 80 * time.Second, 160 * time.Second, 240 * time.Second}
		if len(f.calls) != len(want) {
			t.Fatalf("calls at %v, want %v", f.calls, want)
		}
		for i := range want {
			if f.calls[i] != want[i] {
				t.Fatalf("calls at %v, want %v", f.calls, want)
			}
		}
		if r.Granted() != 100*time.Second || r.Err() != nil {
			t.Fatalf("Granted = %v, Err = %v", r.Granted(), r.Err())
		}
	})
}

func TestRefresherRetriesFailuresWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("unavailable")
		f := &fakeRegister{start: time.Now(), granted: time.Hour, answers: []error{boom, boom, boom}}
		r := startRefresher(t.Context(), f.register)
		time.Sleep(2 * time.Second)
		if !errors.Is(r.Err(), boom) {
			t.Fatalf("Err = %v while failing", r.Err())
		}
		<-r.Registered()
		r.Stop()
		// 1 s, 2 s, 4 s between attempts, then success at 7 s.
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if len(f.calls) != len(want) || f.calls[3] != want[3] || f.calls[2] != want[2] {
			t.Fatalf("calls at %v, want %v", f.calls, want)
		}
		if r.Err() != nil {
			t.Fatalf("Err = %v after success", r.Err())
		}
	})
}

func TestRefresherStopsWithContextAndStopIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := &fakeRegister{start: time.Now(), granted: time.Minute}
		r := startRefresher(ctx, f.register)
		<-r.Registered()
		cancel()
		synctest.Wait()
		time.Sleep(time.Hour)
		r.Stop()
		r.Stop()
		if len(f.calls) != 1 {
			t.Fatalf("%d calls after cancel, want 1", len(f.calls))
		}
	})
}
