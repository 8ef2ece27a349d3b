package cluster

import (
	"encoding/binary"
	"errors"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

// value is what a hold key stores: the member's addresses and record as
// the node that wrote it saw them, and the TTL hold's expiry.
type value struct {
	addrs    []ma.Multiaddr
	envelope []byte
	format   registry.RecordFormat
	expiry   time.Time // zero for a live hold
}

const valueVersion = 1

// Bounds of the decoder: values come from the bucket, which anyone with
// access to the NATS cluster can write, so they are checked like network input.
const (
	maxValueSize    = 128 << 10
	maxValueAddrs   = 256
	maxValueAddrLen = 1024
)

var errBadValue = errors.New("cluster: malformed value")

// encodeValue lays out: version, format, expiry (Unix ms, 0 = none), the
// address count and each address length-prefixed, then the envelope
// length-prefixed. All integers are unsigned varints.
func encodeValue(v value) []byte {
	size := 2 + binary.MaxVarintLen64*3 + len(v.envelope)
	for _, a := range v.addrs {
		size += binary.MaxVarintLen64 + len(a.Bytes())
	}
	b := make([]byte, 0, size)
	b = append(b, valueVersion, byte(v.format))
	var ms uint64
	if !v.expiry.IsZero() {
		// Rounded up: a registration is never stored for less than granted.
		// UnixMilli, not UnixNano, which overflows past the year 2262.
		m := v.expiry.UnixMilli()
		if v.expiry.Nanosecond()%int(time.Millisecond) != 0 {
			m++
		}
		ms = uint64(max(m, 1))
	}
	b = binary.AppendUvarint(b, ms)
	b = binary.AppendUvarint(b, uint64(len(v.addrs)))
	for _, a := range v.addrs {
		ab := a.Bytes()
		b = binary.AppendUvarint(b, uint64(len(ab)))
		b = append(b, ab...)
	}
	b = binary.AppendUvarint(b, uint64(len(v.envelope)))
	return append(b, v.envelope...)
}

func decodeValue(b []byte) (value, error) {
	var v value
	if len(b) > maxValueSize || len(b) < 2 || b[0] != valueVersion {
		return v, errBadValue
	}
	v.format = registry.RecordFormat(b[1])
	if v.format > registry.FormatRoutingState {
		return v, errBadValue
	}
	rest := b[2:]
	next := func() (uint64, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 {
			return 0, false
		}
		rest = rest[k:]
		return n, true
	}
	ms, ok := next()
	if !ok || ms > 1<<53 {
		return v, errBadValue
	}
	if ms != 0 {
		v.expiry = time.UnixMilli(int64(ms))
	}
	n, ok := next()
	if !ok || n > maxValueAddrs {
		return v, errBadValue
	}
	v.addrs = make([]ma.Multiaddr, 0, n)
	for range n {
		l, ok := next()
		if !ok || l == 0 || l > maxValueAddrLen || l > uint64(len(rest)) {
			return v, errBadValue
		}
		a, err := ma.NewMultiaddrBytes(rest[:l])
		if err != nil {
			return v, errBadValue
		}
		v.addrs = append(v.addrs, a)
		rest = rest[l:]
	}
	l, ok := next()
	if !ok || l != uint64(len(rest)) {
		return v, errBadValue
	}
	if l > 0 {
		v.envelope = append([]byte(nil), rest...)
	}
	return v, nil
}

// A removal (a purge marker this package writes) carries the reason in its
// body, so other nodes' views report LEFT with the reason the peer's own
// node saw. A marker without a body is the server's own: the TTL ran out.
func encodeReason(r registry.LeftReason) []byte { return []byte{byte(r)} }

func decodeReason(b []byte) registry.LeftReason {
	if len(b) != 1 {
		return registry.ReasonExpired
	}
	switch r := registry.LeftReason(b[0]); r {
	case registry.ReasonUnregistered, registry.ReasonDisconnected, registry.ReasonExpired:
		return r
	}
	return registry.ReasonDisconnected
}
