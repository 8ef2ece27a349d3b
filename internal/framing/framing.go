// Package framing reads and writes the unsigned-varint length-prefixed frames
// that libp2p protocols (rendezvous, ws-star) use on their streams.
package framing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrTooLarge means a frame announced more than the allowed size. Nothing
	// of it is read or allocated.
	ErrTooLarge = errors.New("message too large")
	// ErrBadPrefix means the length prefix is not a minimal unsigned varint.
	ErrBadPrefix = errors.New("malformed length prefix")
)

// Reader is satisfied by *bufio.Reader and *bytes.Reader.
type Reader interface {
	io.Reader
	io.ByteReader
}

// Read reads one frame of at most max bytes. The prefix is refused as soon as
// it exceeds max, so a hostile prefix costs a few bytes and no allocation. A
// clean end of stream before the first byte is io.EOF; anywhere else it is
// io.ErrUnexpectedEOF.
func Read(r Reader, max int) ([]byte, error) {
	var n uint64
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return nil, ErrBadPrefix
		}
		n |= uint64(c&0x7f) << (7 * i)
		if n > uint64(max) {
			return nil, fmt.Errorf("%w: more than %d bytes announced", ErrTooLarge, max)
		}
		if c < 0x80 {
			if i > 0 && c == 0 {
				// Not minimally encoded: unsigned-varint forbids it.
				return nil, ErrBadPrefix
			}
			break
		}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// Append appends msg to dst with its length prefix.
func Append(dst, msg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(msg)))
	return append(dst, msg...)
}
