package registry

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestTTLHoldExpiresExactlyAtExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("chat", rec.add)()
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		rec.take()

		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		if evs := rec.take(); len(evs) != 0 {
			t.Fatalf("events before expiry: %v", summarize(evs))
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait() // the timer's goroutine runs; no read triggers expiry here
		checkEvents(t, rec.take(), wantEvent{Left, ReasonExpired, testPeer(1)})
		if s := m.Stats(); s.Registrations != 0 || s.Namespaces != 0 {
			t.Fatalf("Stats after expiry: %+v", s)
		}
	})
}

func TestRefreshPostponesExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("chat", rec.add)()
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		time.Sleep(50 * time.Second)
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute)) // now expires at 110 s
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if m.Members("chat") != 1 {
			t.Fatal("member expired at its old expiry")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, testPeer(1)}, wantEvent{Left, ReasonExpired, testPeer(1)})
	})
}

func TestShorterRefreshBringsExpiryForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("chat", rec.add)()
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Hour))
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		time.Sleep(time.Minute)
		synctest.Wait()
		checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, testPeer(1)}, wantEvent{Left, ReasonExpired, testPeer(1)})
	})
}

func TestExpiriesFireInOrderWithOneTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("", rec.add)()
		// Registered out of order; they must leave in expiry order.
		for _, i := range []int{3, 1, 4, 2, 5} {
			mustRegister(t, m, ttlReg(t, "ns", i, time.Duration(i)*time.Second))
		}
		rec.take()
		for i := 1; i <= 5; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
			checkEvents(t, rec.take(), wantEvent{Left, ReasonExpired, testPeer(i)})
		}
	})
}

func TestTTLExpiryUnderLiveHoldIsSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("chat", rec.add)()
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		mustRegister(t, m, liveReg(t, "chat", 1))
		time.Sleep(time.Hour)
		synctest.Wait()
		r, ok := m.Get("chat", testPeer(1))
		if !ok || r.Source != SourceLive || !r.Expiry.IsZero() {
			t.Fatalf("after TTL expiry under a live hold: ok=%v %+v", ok, r)
		}
		m.Unregister("chat", testPeer(1), SourceLive, ReasonDisconnected)
		checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, testPeer(1)}, wantEvent{Left, ReasonDisconnected, testPeer(1)})
	})
}

func TestUnregisteredTTLHoldDoesNotExpireLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("chat", rec.add)()
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		m.Unregister("chat", testPeer(1), SourceRendezvous, ReasonUnregistered)
		mustRegister(t, m, liveReg(t, "chat", 1)) // rejoins live only
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if m.Members("chat") != 1 {
			t.Fatal("a dropped TTL hold still expired the member")
		}
		checkEvents(t, rec.take(),
			wantEvent{Joined, ReasonNone, testPeer(1)},
			wantEvent{Left, ReasonUnregistered, testPeer(1)},
			wantEvent{Joined, ReasonNone, testPeer(1)})
	})
}

func TestCloseStopsExpiryTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory()
		var rec recorder
		m.Subscribe("chat", rec.add)
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		rec.take()
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if evs := rec.take(); len(evs) != 0 {
			t.Fatalf("events after Close: %v", summarize(evs))
		}
	})
}

func TestReadsHideLapsedHoldsEvenBeforeTheTimerRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		var rec recorder
		defer m.Subscribe("chat", rec.add)()
		mustRegister(t, m, ttlReg(t, "chat", 1, time.Minute))
		// Holding the lock keeps the timer's callback from running when the
		// clock reaches the expiry, like a timer that runs late.
		m.mu.Lock()
		done := make(chan struct{})
		go func() {
			time.Sleep(time.Minute)
			close(done)
		}()
		<-done
		// Now at the expiry; the callback may be queued behind the lock.
		m.mu.Unlock()
		if _, ok := m.Get("chat", testPeer(1)); ok {
			t.Fatal("Get returned a lapsed registration")
		}
		synctest.Wait()
		checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, testPeer(1)}, wantEvent{Left, ReasonExpired, testPeer(1)})
	})
}
