package rendezvous

import (
	"context"
	"sync"
	"time"
)

const (
	refreshFraction = 0.8 // of the granted TTL
	minRetry        = time.Second
	maxRetry        = time.Minute
)

// Refresher keeps a registration alive: it registers at once, then again at
// 80 % of each granted TTL, retrying failures with backoff, until stopped.
type Refresher struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	granted time.Duration
	err     error
	ok      chan struct{} // closed after the first success
}

// Refresh starts a Refresher for the host's registration in ns. It stops on
// Stop or when ctx ends; it does not unregister.
func (c *Client) Refresh(ctx context.Context, ns string, ttl time.Duration) *Refresher {
	return startRefresher(ctx, func(ctx context.Context) (time.Duration, error) {
		return c.Register(ctx, ns, ttl)
	})
}

func startRefresher(ctx context.Context, register func(context.Context) (time.Duration, error)) *Refresher {
	ctx, cancel := context.WithCancel(ctx)
	r := &Refresher{cancel: cancel, done: make(chan struct{}), ok: make(chan struct{})}
	go r.run(ctx, register)
	return r
}

func (r *Refresher) run(ctx context.Context, register func(context.Context) (time.Duration, error)) {
	defer close(r.done)
	retry := minRetry
	first := true
	for {
		granted, err := register(ctx)
		r.mu.Lock()
		r.err = err
		if err == nil {
			r.granted = granted
		}
		r.mu.Unlock()
		var wait time.Duration
		if err == nil {
			if first {
				close(r.ok)
				first = false
			}
			retry = minRetry
			wait = time.Duration(float64(granted) * refreshFraction)
		} else {
			wait = retry
			retry = min(2*retry, maxRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Registered is closed after the first successful registration.
func (r *Refresher) Registered() <-chan struct{} { return r.ok }

// Granted returns the TTL of the last successful registration (0 if none).
func (r *Refresher) Granted() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.granted
}

// Err returns the error of the last attempt (nil if it succeeded).
func (r *Refresher) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Stop ends refreshing and waits for a running attempt to return. It is
// idempotent.
func (r *Refresher) Stop() {
	r.cancel()
	<-r.done
}
