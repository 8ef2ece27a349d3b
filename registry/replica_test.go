package registry

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func collect(m *Memory, ns string) *[]Event {
	var evs []Event
	m.Subscribe(ns, func(ev Event) { evs = append(evs, ev) })
	return &evs
}

func TestApplyEmitsTheEventsRegisterAndUnregisterWould(t *testing.T) {
	m := newMemory(t, WithFirstSeq(0))
	evs := collect(m, "room")
	r := liveReg(t, "room", 1)
	r.Seq = 100
	m.Apply(r, Holds{Live: true}, ReasonNone)
	m.Apply(r, Holds{Live: true}, ReasonNone) // an echo: nothing new
	r.Addrs = append(r.Addrs, testAddr(t, 2))
	r.Seq = 200
	m.Apply(r, Holds{Live: true}, ReasonNone)
	m.Apply(r, Holds{}, ReasonUnregistered)
	kinds := []EventKind{}
	for _, ev := range *evs {
		kinds = append(kinds, ev.Kind)
	}
	if len(kinds) != 3 || kinds[0] != Joined || kinds[1] != Updated || kinds[2] != Left {
		t.Fatalf("events %v, want joined updated left", kinds)
	}
	if (*evs)[2].Reason != ReasonUnregistered {
		t.Fatalf("left reason %v", (*evs)[2].Reason)
	}
	if (*evs)[1].Reg.Seq != 200 {
		t.Fatalf("Seq %d, want the backend's 200", (*evs)[1].Reg.Seq)
	}
}

func TestApplyKeepsDiscoverOrderedWhenTheCallerSeqGoesBack(t *testing.T) {
	m := newMemory(t, WithFirstSeq(0))
	a, b := liveReg(t, "room", 1), liveReg(t, "room", 2)
	a.Seq = 1000
	m.Apply(a, Holds{Live: true}, ReasonNone)
	b.Seq = 0 // a change no backend write made
	m.Apply(b, Holds{Live: true}, ReasonNone)
	regs, _ := m.Discover("room", 0, 10)
	if len(regs) != 2 || regs[0].Seq != 1000 || regs[1].Seq <= 1000 {
		t.Fatalf("Discover order: %+v", regs)
	}
}

func TestAppliedTTLHoldExpiresAtItsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(WithFirstSeq(0))
		defer m.Close()
		evs := collect(m, "room")
		r := ttlReg(t, "room", 1, time.Minute)
		m.Apply(r, Holds{Expiry: r.Expiry}, ReasonNone)
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if len(*evs) != 2 || (*evs)[1].Kind != Left || (*evs)[1].Reason != ReasonExpired {
			t.Fatalf("events %+v, want joined then left(expired)", *evs)
		}
		// A hold already past its expiry is no hold.
		m.Apply(r, Holds{Expiry: r.Expiry}, ReasonNone)
		if m.Members("room") != 0 {
			t.Fatal("an expired hold made a member")
		}
	})
}

func TestAdmitChecksLimitsAndCapsWithoutStoring(t *testing.T) {
	m := newMemory(t, withLimits(func(l *Limits) { l.MaxRegistrationsPerPeer = 1 }))
	r := liveReg(t, "one", 1)
	if err := m.Admit(r); err != nil {
		t.Fatal(err)
	}
	if m.Members("one") != 0 {
		t.Fatal("Admit stored the registration")
	}
	mustRegister(t, m, r)
	if err := m.Admit(r); err != nil {
		t.Fatalf("a refresh is refused: %v", err)
	}
	r.Namespace = "two"
	if err := m.Admit(r); !errors.Is(err, ErrTooManyForPeer) {
		t.Fatalf("second namespace: %v", err)
	}
	r.Addrs = nil
	if err := m.Admit(r); !errors.Is(err, ErrNoAddrs) {
		t.Fatalf("no addresses: %v", err)
	}
}
