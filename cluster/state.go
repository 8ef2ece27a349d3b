package cluster

import (
	"time"

	"github.com/ws-star/rendezvous/registry"
)

// hold is one key of the bucket as the local copy knows it.
type hold struct {
	key  string
	kind keyKind
	inst string // "" for a cluster-wide TTL hold
	rev  uint64 // bucket revision; 0 while only applied locally
	val  value
}

// newerThan orders a member's holds: a hold applied locally and not yet in
// the bucket is the newest, then bucket revisions.
func (h *hold) newerThan(o *hold) bool {
	if (h.rev == 0) != (o.rev == 0) {
		return h.rev == 0
	}
	return h.rev > o.rev
}

// state is the raw content of the bucket: every hold of every member, and
// which members each node instance holds. The members the registry shows are
// derived from it (deriveLocked) into the local registry.Memory.
type state struct {
	members map[memberKey][]*hold
	byInst  map[string]map[memberKey]struct{}
}

func newState() state {
	return state{members: make(map[memberKey][]*hold), byInst: make(map[string]map[memberKey]struct{})}
}

func (s *state) find(mk memberKey, key string) *hold {
	for _, h := range s.members[mk] {
		if h.key == key {
			return h
		}
	}
	return nil
}

// put stores h unless a newer version of the key is there already; it
// reports whether it did.
func (s *state) put(mk memberKey, h *hold) bool {
	if old := s.find(mk, h.key); old != nil {
		if old.rev != 0 && h.rev != 0 && h.rev <= old.rev {
			return false
		}
		*old = *h
		return true
	}
	s.members[mk] = append(s.members[mk], h)
	if h.inst != "" {
		set := s.byInst[h.inst]
		if set == nil {
			set = make(map[memberKey]struct{})
			s.byInst[h.inst] = set
		}
		set[mk] = struct{}{}
	}
	return true
}

// remove drops the key unless the removal (at rev, 0 = local) is older than
// what is stored; it reports whether it did.
func (s *state) remove(mk memberKey, key string, rev uint64) bool {
	list := s.members[mk]
	for i, h := range list {
		if h.key != key {
			continue
		}
		if rev != 0 && h.rev != 0 && rev < h.rev {
			return false
		}
		list[i] = list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
		if len(list) == 0 {
			delete(s.members, mk)
		} else {
			s.members[mk] = list
		}
		if h.inst != "" {
			s.unindex(h.inst, mk)
		}
		return true
	}
	return false
}

func (s *state) unindex(inst string, mk memberKey) {
	for _, h := range s.members[mk] {
		if h.inst == inst {
			return
		}
	}
	if set := s.byInst[inst]; set != nil {
		delete(set, mk)
		if len(set) == 0 {
			delete(s.byInst, inst)
		}
	}
}

// dropInstance forgets every hold of instance inst, returning the members
// that had one.
func (s *state) dropInstance(inst string) []memberKey {
	mks := s.holdsOf(inst)
	for _, mk := range mks {
		list := s.members[mk][:0]
		for _, h := range s.members[mk] {
			if h.inst != inst {
				list = append(list, h)
			}
		}
		if len(list) == 0 {
			delete(s.members, mk)
		} else {
			s.members[mk] = list
		}
	}
	delete(s.byInst, inst)
	return mks
}

// holdsOf lists the members holding keys of instance inst.
func (s *state) holdsOf(inst string) []memberKey {
	out := make([]memberKey, 0, len(s.byInst[inst]))
	for mk := range s.byInst[inst] {
		out = append(out, mk)
	}
	return out
}

// derive merges mk's holds that count now (those of live instances, TTL
// holds not yet expired) into what the local registry shows.
func (s *state) derive(mk memberKey, alive func(inst string) bool, now time.Time) (registry.Registration, registry.Holds) {
	var h registry.Holds
	var newest *hold
	for _, x := range s.members[mk] {
		if x.inst != "" && !alive(x.inst) {
			continue
		}
		if x.kind == keyLive {
			h.Live = true
		} else if x.val.expiry.After(now) {
			if x.val.expiry.After(h.Expiry) {
				h.Expiry = x.val.expiry
			}
		} else {
			continue
		}
		if newest == nil || x.newerThan(newest) {
			newest = x
		}
	}
	r := registry.Registration{Namespace: mk.ns, Peer: mk.peer}
	if newest != nil {
		r.Addrs, r.Envelope, r.Format = newest.val.addrs, newest.val.envelope, newest.val.format
	}
	return r, h
}
