package registry

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSubscribeAllNamespacesAndPerNamespace(t *testing.T) {
	m := newMemory(t)
	var all, a recorder
	defer m.Subscribe("", all.add)()
	defer m.Subscribe("a", a.add)()
	mustRegister(t, m, liveReg(t, "a", 1))
	mustRegister(t, m, liveReg(t, "b", 2))
	checkEvents(t, a.take(), wantEvent{Joined, ReasonNone, testPeer(1)})
	checkEvents(t, all.take(), wantEvent{Joined, ReasonNone, testPeer(1)}, wantEvent{Joined, ReasonNone, testPeer(2)})
}

func TestCancelStopsDeliveryEvenFromInsideCallback(t *testing.T) {
	m := newMemory(t)
	var rec recorder
	cancel := m.Subscribe("ns", rec.add)
	var selfCalls atomic.Int32
	var selfCancel func()
	selfCancel = m.Subscribe("ns", func(Event) {
		selfCalls.Add(1)
		selfCancel() // from inside fn: must not deadlock
	})
	mustRegister(t, m, liveReg(t, "ns", 1))
	cancel()
	cancel() // idempotent
	mustRegister(t, m, liveReg(t, "ns", 2))
	if n := selfCalls.Load(); n != 1 {
		t.Fatalf("self-cancelling subscriber called %d times, want 1", n)
	}
	checkEvents(t, rec.take(), wantEvent{Joined, ReasonNone, testPeer(1)})
	if s := m.Stats(); s.Subscriptions != 0 {
		t.Fatalf("%d subscriptions left after cancelling all", s.Subscriptions)
	}
}

func TestCancelledSubscriptionsAreRemoved(t *testing.T) {
	m := newMemory(t)
	var cancels []func()
	for i := range 100 {
		cancels = append(cancels, m.Subscribe(fmt.Sprint("ns", i%3), func(Event) {}))
	}
	for i, c := range cancels {
		if i%2 == 0 {
			c()
		}
	}
	if s := m.Stats(); s.Subscriptions != 50 {
		t.Fatalf("Subscriptions = %d, want 50", s.Subscriptions)
	}
	var got atomic.Int32
	defer m.Subscribe("ns1", func(Event) { got.Add(1) })()
	mustRegister(t, m, liveReg(t, "ns1", 1))
	if got.Load() != 1 {
		t.Fatal("a subscription stopped working after others were removed")
	}
}

// A subscriber that works slowly (here: a consumer goroutine that reads the
// registry for every event it gets) must not stall or deadlock registration,
// as long as its callback only hands events over without blocking.
func TestBusySubscriberCannotDeadlockRegister(t *testing.T) {
	m := newMemory(t)
	events := make(chan Event, 16)
	var dropped atomic.Int64
	defer m.Subscribe("", func(ev Event) {
		select {
		case events <- ev:
		default:
			dropped.Add(1) // the subscriber's own overflow policy
		}
	})()
	stop := make(chan struct{})
	var consumer sync.WaitGroup
	consumer.Add(1)
	go func() {
		defer consumer.Done()
		for {
			select {
			case ev := <-events:
				m.Get(ev.Reg.Namespace, ev.Reg.Peer) // calls back into the registry
				m.Random(ev.Reg.Namespace, 4, nil)
				time.Sleep(50 * time.Microsecond)
			case <-stop:
				return
			}
		}
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 500 {
					ns := fmt.Sprint("ns", i%5)
					if _, err := m.Register(liveReg(t, ns, w*1000+i)); err != nil {
						t.Error(err)
						return
					}
					m.Unregister(ns, testPeer(w*1000+i), SourceLive, ReasonDisconnected)
				}
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a deadlock guard, not a speed check
		t.Fatal("Register stalled behind a busy subscriber")
	}
	close(stop)
	consumer.Wait()
	if s := m.Stats(); s.Registrations != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestEventsOfConcurrentWritersArriveInSeqOrder(t *testing.T) {
	m := newMemory(t)
	var mu sync.Mutex
	var joinedSeqs []uint64
	defer m.Subscribe("ns", func(ev Event) {
		if ev.Kind == Joined {
			mu.Lock()
			joinedSeqs = append(joinedSeqs, ev.Reg.Seq)
			mu.Unlock()
		}
	})()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if _, err := m.Register(liveReg(t, "ns", w*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(joinedSeqs) != 800 {
		t.Fatalf("got %d Joined events", len(joinedSeqs))
	}
	for i := 1; i < len(joinedSeqs); i++ {
		if joinedSeqs[i] <= joinedSeqs[i-1] {
			t.Fatalf("event %d out of order: Seq %d after %d", i, joinedSeqs[i], joinedSeqs[i-1])
		}
	}
}
