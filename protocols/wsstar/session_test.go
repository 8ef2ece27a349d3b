package wsstar

import (
	"bytes"
	"reflect"
	"runtime"
	"testing"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// goroutinesIn counts the goroutines whose stack contains fn.
func goroutinesIn(fn any) int {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(name+"(")) {
			count++
		}
	}
	return count
}

func TestIdleJoinedStreamHoldsNoWriterGoroutine(t *testing.T) {
	n := newNode(t, nil)
	settled := func(streams int) func() bool {
		return func() bool {
			// The readers prove that the stacks are searched right.
			return goroutinesIn((*session).readLoop) >= streams && goroutinesIn((*session).writeLoop) == 0
		}
	}

	var clients []*Client
	for range 3 {
		c, h := n.dial(t)
		join(t, c, "ns", true, 0)
		for _, earlier := range clients {
			expectEvent(t, earlier, h.ID())
		}
		clients = append(clients, c)
	}
	eventually(t, "writers to exit after the joins", settled(3))

	// An idle stream still gets what happens next: a writer starts again.
	c, h := n.dial(t)
	join(t, c, "ns", true, 0)
	for _, earlier := range clients {
		if e := expectEvent(t, earlier, h.ID()); e.Kind != pb.PeerEvent_JOINED {
			t.Fatalf("got %v for the new member, want JOINED", e.Kind)
		}
	}
	eventually(t, "writers to exit after the changes", settled(4))
}
