package framing

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFramesRoundTripAndEndCleanly(t *testing.T) {
	var b []byte
	for _, m := range [][]byte{[]byte("a"), {}, bytes.Repeat([]byte{7}, 300)} {
		b = Append(b, m)
	}
	r := bytes.NewReader(b)
	for _, want := range []int{1, 0, 300} {
		got, err := Read(r, 1024)
		if err != nil || len(got) != want {
			t.Fatalf("got %d bytes, %v; want %d", len(got), err, want)
		}
	}
	if _, err := Read(r, 1024); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestOversizeFrameIsRefusedFromItsPrefix(t *testing.T) {
	// A prefix announcing 2^62 bytes followed by nothing: refused without
	// reading or allocating the body.
	b := []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}
	if _, err := Read(bytes.NewReader(b), 4096); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestMalformedAndTruncatedFrames(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"non-minimal prefix": {[]byte{0x81, 0x00, 'x'}, ErrBadPrefix},
		"truncated prefix":   {[]byte{0x81}, io.ErrUnexpectedEOF},
		"truncated body":     {[]byte{0x03, 'a'}, io.ErrUnexpectedEOF},
	}
	for name, tc := range cases {
		if _, err := Read(bytes.NewReader(tc.in), 4096); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}
