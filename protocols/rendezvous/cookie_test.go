package rendezvous

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCookieRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		cursor uint64
		ns     string
	}{
		{0, ""},
		{1, "chat"},
		{1<<64 - 1, strings.Repeat("ü", 127)},
	} {
		c := EncodeCookie(tc.cursor, tc.ns)
		cur, ns, err := ParseCookie(c)
		if err != nil || cur != tc.cursor || ns != tc.ns {
			t.Errorf("ParseCookie(EncodeCookie(%d, %q)) = %d, %q, %v", tc.cursor, tc.ns, cur, ns, err)
		}
	}
}

func TestCookieLayoutIsBigEndianCursorThenNamespace(t *testing.T) {
	got := EncodeCookie(0x0102030405060708, "ns")
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 'n', 's'}
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodeCookie = %x, want %x", got, want)
	}
}

func TestParseCookieRejectsMalformedCookies(t *testing.T) {
	for name, c := range map[string][]byte{
		"empty":          {},
		"short":          {0, 0, 0, 0, 0, 0, 1},
		"bad utf-8":      append(make([]byte, 8), 0xff, 0xfe),
		"too long":       append(make([]byte, 8), bytes.Repeat([]byte("a"), MaxNamespaceLen+1)...),
		"truncated rune": append(make([]byte, 8), "ü"[:1]...),
	} {
		if _, _, err := ParseCookie(c); !errors.Is(err, ErrInvalidCookie) {
			t.Errorf("%s: err = %v, want ErrInvalidCookie", name, err)
		}
	}
}

func FuzzParseCookie(f *testing.F) {
	f.Add(EncodeCookie(42, "chat"))
	f.Add(EncodeCookie(0, ""))
	f.Add([]byte{1, 2, 3})
	f.Add(append(make([]byte, 8), 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		cur, ns, err := ParseCookie(b)
		if err != nil {
			return
		}
		// Whatever parses must re-encode to the same bytes.
		if again := EncodeCookie(cur, ns); !bytes.Equal(again, b) {
			t.Fatalf("EncodeCookie(ParseCookie(%x)) = %x", b, again)
		}
	})
}
