package rendezvous

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/registry"
)

const benchClients = 100

// benchStreams connects benchClients hosts to one server and opens one raw
// stream each. Raw frames keep client-side work (sealing, verifying records)
// out of the figures: on one machine it would compete with the server.
func benchStreams(b *testing.B, s *server) []*rawStream {
	b.Helper()
	streams := make([]*rawStream, benchClients)
	for i := range streams {
		h, _ := s.newClient(b)
		streams[i] = openRaw(b, h, s)
		_ = streams[i].str.SetDeadline(time.Time{})
	}
	return streams
}

// runClients runs b.N requests spread over the streams, each stream sending
// its next request when the previous reply has arrived.
func runClients(b *testing.B, streams []*rawStream, op func(i int, r *rawStream) bool) {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for i, r := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if !op(i, r) {
					failed.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d clients failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// exchange sends m and reads one reply without failing the benchmark from
// a client goroutine.
func (r *rawStream) exchange(m []byte) ([]byte, error) {
	if _, err := r.str.Write(m); err != nil {
		return nil, err
	}
	return readFrame(r.r, 4<<20)
}

// BenchmarkRegister100Clients measures REGISTER (a refresh: signature check
// plus registry update) with 100 clients on loopback WebSockets.
func BenchmarkRegister100Clients(b *testing.B) {
	s := newServer(b, nil)
	streams := benchStreams(b, s)
	frames := make([][]byte, len(streams))
	for i, r := range streams {
		frames[i] = frame(b, registerMsg("bench", hostRecordFor(b, r), 0))
	}
	runClients(b, streams, func(i int, r *rawStream) bool {
		b, err := r.exchange(frames[i])
		if err != nil {
			return false
		}
		m, err := decodeMessage(b)
		return err == nil && m.GetRegisterResponse().GetStatus() == StatusOK
	})
}

// BenchmarkDiscover100Clients measures DISCOVER of a 100-member namespace
// (limit 100, so every reply carries 100 records) with 100 clients.
func BenchmarkDiscover100Clients(b *testing.B) {
	s := newServer(b, nil)
	streams := benchStreams(b, s)
	for _, r := range streams {
		resp, err := r.exchange(frame(b, registerMsg("bench", hostRecordFor(b, r), 0)))
		if err != nil {
			b.Fatal(err)
		}
		if m, _ := decodeMessage(resp); m.GetRegisterResponse().GetStatus() != StatusOK {
			b.Fatalf("setup REGISTER: %v", m)
		}
	}
	req := frame(b, discoverMsg("bench", benchClients, nil))
	runClients(b, streams, func(_ int, r *rawStream) bool {
		b, err := r.exchange(req)
		if err != nil {
			return false
		}
		m, err := decodeMessage(b)
		return err == nil && len(m.GetDiscoverResponse().GetRegistrations()) == benchClients
	})
}

func hostRecordFor(b *testing.B, r *rawStream) []byte {
	b.Helper()
	return hostRecord(b, r.host, registry.FormatPeerRecord)
}
