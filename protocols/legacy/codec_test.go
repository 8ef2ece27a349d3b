package legacy

import (
	"bytes"
	"testing"
)

func TestPacketsOfTheOldClientsDecodeAndEncodeAsSocketIO2(t *testing.T) {
	p, err := decodePacket([]byte(`212["ss-join","/ip4/1.2.3.4/tcp/9090/ws/p2p-websocket-star/ipfs/Qm","ab"]`))
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := p.name(); name != "ss-join" || p.id != 12 || len(p.args) != 3 || p.nsp != "/" {
		t.Fatalf("decoded %+v", p)
	}
	b, err := decodePacket([]byte(`51-["socket.io-pull-stream.queue.x.dialer",{"_placeholder":true,"num":0}]`))
	if err != nil {
		t.Fatal(err)
	}
	if b.attachments != 1 || b.missing() != 1 || !b.attach([]byte("data")) {
		t.Fatalf("binary event %+v", b)
	}
	text, bins := b.frames()
	if string(text) != `451-["socket.io-pull-stream.queue.x.dialer",{"_placeholder":true,"num":0}]` {
		t.Errorf("encoded %s", text)
	}
	if len(bins) != 1 || !bytes.Equal(bins[0], append([]byte{4}, "data"...)) {
		t.Errorf("attachments %q", bins)
	}
	a := ack(7, nullArg, jsonArg("nonce"))
	if text, _ := a.frames(); string(text) != `437[null,"nonce"]` {
		t.Errorf("ack encoded %s", text)
	}
	for _, bad := range []string{"", "9", "2[", `5x-[]`, `55-["a"]`, `51-["a"]`, `2[]`, `21["a"`} {
		if _, err := decodePacket([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestDefaultLimitsAreValidAndEveryBadFieldIsNamed(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	l := DefaultLimits()
	l.MaxFrameBytes = MaxFrameBytes + 1
	l.SocketQueueBytes = 64 << 10
	err := l.Validate()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("max_frame_bytes")) {
		t.Fatalf("Validate: %v", err)
	}
}

// FuzzDecodePacket: any text decodes or fails without panicking, and what
// decodes encodes to a packet that decodes the same.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{
		`2["ws-peer","/ip4/1.2.3.4/tcp/1/ws/p2p-websocket-star/ipfs/Qm"]`,
		`212["ss-join","/a","b"]`, `3[null,"x"]`, `51-["q",{"_placeholder":true,"num":0}]`,
		`2/chat,3["x"]`, `62-5[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, `0`, `1`, `4"err"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := decodePacket(in)
		if err != nil {
			return
		}
		for p.missing() > 0 {
			p.attach([]byte{1, 2})
		}
		if p.typ != sioEvent && p.typ != sioBinaryEvent && p.typ != sioAck && p.typ != sioBinaryAck {
			return
		}
		text, bins := p.frames()
		q, err := decodePacket(text[1:])
		if err != nil {
			t.Fatalf("%q re-encoded as %q: %v", in, text, err)
		}
		if q.id != p.id || q.nsp != p.nsp || len(q.args) != len(p.args) || q.attachments != len(bins) {
			t.Fatalf("%q: %+v became %+v", in, p, q)
		}
	})
}
