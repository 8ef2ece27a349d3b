package registry

import "sort"

// seqLog orders registrations by Seq for Discover. Seq comes from one counter
// that only grows, so a refreshed or new registration is always appended; its
// old item stays behind as a stale tombstone (recognisable because the entry's
// Seq moved on, or is 0 once removed). A page is a binary search for the
// cursor plus a walk over the page, with no per-call sort. Tombstones are
// compacted away once they outnumber live items, which keeps the walk and the
// memory within a constant factor of the live set and costs O(1) amortised
// per refresh.
type seqLog struct {
	items []logItem
	stale int
}

type logItem struct {
	seq uint64
	e   *entry
}

// compactMin keeps tiny logs from compacting on every refresh.
const compactMin = 32

func (l *seqLog) push(seq uint64, e *entry) {
	l.items = append(l.items, logItem{seq: seq, e: e})
}

// supersede records that one item went stale.
func (l *seqLog) supersede() {
	l.stale++
	if l.stale > compactMin && l.stale > len(l.items)/2 {
		l.compact()
	}
}

func (l *seqLog) compact() {
	live := l.items[:0]
	for _, it := range l.items {
		if it.e.seq == it.seq {
			live = append(live, it)
		}
	}
	clear(l.items[len(live):]) // drop pointers to removed entries
	l.items = live
	l.stale = 0
	// Give memory back after a mass departure.
	if cap(l.items) > 4*len(l.items) && cap(l.items) > 4*compactMin {
		l.items = append(make([]logItem, 0, 2*len(l.items)), l.items...)
	}
}

// page returns up to limit live registrations with Seq > after, in Seq order,
// and the Seq of the last item it looked at (after, if none), which is where
// the next page starts.
func (l *seqLog) page(after uint64, limit int) ([]Registration, uint64) {
	i := sort.Search(len(l.items), func(i int) bool { return l.items[i].seq > after })
	out := make([]Registration, 0, min(limit, len(l.items)-i))
	next := after
	for ; i < len(l.items) && len(out) < limit; i++ {
		it := l.items[i]
		next = it.seq
		if it.e.seq != it.seq {
			continue
		}
		out = append(out, it.e.registration())
	}
	return out, next
}
