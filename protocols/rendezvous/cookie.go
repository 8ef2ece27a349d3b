package rendezvous

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// ErrInvalidCookie is returned by ParseCookie for any malformed cookie.
var ErrInvalidCookie = errors.New("rendezvous: invalid cookie")

// EncodeCookie returns the cookie for a registry cursor in ns ("" = all
// namespaces): 8 bytes big-endian cursor, then the namespace in UTF-8. The
// layout is what rust-libp2p clients parse, so they can page with it.
func EncodeCookie(cursor uint64, ns string) []byte {
	b := make([]byte, cursorLen, cursorLen+len(ns))
	binary.BigEndian.PutUint64(b, cursor)
	return append(b, ns...)
}

// ParseCookie splits a cookie made by EncodeCookie. It rejects cookies shorter
// than 8 bytes, longer than 8 bytes plus a maximal namespace, or whose
// namespace is not valid UTF-8.
func ParseCookie(b []byte) (cursor uint64, ns string, err error) {
	if len(b) < cursorLen || len(b) > maxCookieLen {
		return 0, "", ErrInvalidCookie
	}
	rest := b[cursorLen:]
	if !utf8.Valid(rest) {
		return 0, "", ErrInvalidCookie
	}
	return binary.BigEndian.Uint64(b), string(rest), nil
}
