package browserping

import (
	"bytes"
	"testing"
)

// The request is byte for byte what js-libp2p's multistream-select writes:
// each message length-prefixed, newline-terminated, both in one write.
func TestRequestIsTheMultistreamHeaderAndPingProtocolLengthPrefixed(t *testing.T) {
	want := append([]byte{19}, "/multistream/1.0.0\n"...)
	want = append(want, 17)
	want = append(want, "/ipfs/ping/1.0.0\n"...)
	if !bytes.Equal(Request, want) {
		t.Fatalf("Request = %q, want %q", Request, want)
	}
}
