package wsstar

import "testing"

func TestCoalescerKeepsEachKeysPlaceAndNewestValue(t *testing.T) {
	var held int
	c := newCoalescer[int, int](0, func(n int) { held = n })
	// Long enough to go through the compaction of a queue that never empties;
	// every round updates the keys still held.
	const keys = 3000
	next := 0 // the key the next take must start at
	for round := range 4 {
		for k := next; k < keys; k++ {
			c.put(k, k*10+round)
		}
		if held != keys-next {
			t.Fatalf("round %d: %d held, want %d", round, held, keys-next)
		}
		got := c.take(700)
		if len(got) != 700 {
			t.Fatalf("round %d: took %d, want 700", round, len(got))
		}
		for i, v := range got {
			if want := (next+i)*10 + round; v != want {
				t.Fatalf("round %d: value %d is %d, want %d", round, i, v, want)
			}
		}
		next += 700
	}
	rest := c.take(keys)
	if len(rest) != keys-next || held != 0 || len(c.take(1)) != 0 {
		t.Fatalf("took %d of the rest, %d held; want %d, 0", len(rest), held, keys-next)
	}
}

func TestCoalescerOverItsBoundRefusesNewKeysOnly(t *testing.T) {
	c := newCoalescer[string, int](2, nil)
	if !c.put("a", 1) || !c.put("b", 1) {
		t.Fatal("refused under the bound")
	}
	if c.put("c", 1) {
		t.Fatal("took a third key over a bound of 2")
	}
	if !c.put("a", 2) {
		t.Fatal("refused a newer value for a held key")
	}
	if got := c.take(10); len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Fatalf("took %v, want [2 1]", got)
	}
}
