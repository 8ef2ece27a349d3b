// Package browserping replays, over a go-libp2p connection, the ping that
// js-libp2p's connection monitor makes on every connection (every 10 s by
// default): a new yamux stream whose SYN is a frame of its own, the
// multistream-select header and /ipfs/ping/1.0.0 in one write, a wait for
// both answers, 32 random bytes, a read of their echo, and a close that
// waits for the other side's. The bench tool and the node's benchmarks use
// it so that their browser-like peers cost the node what browsers do.
package browserping

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/ws-star/rendezvous/internal/framing"
)

const (
	// Multistream is multistream-select's protocol ID.
	Multistream = "/multistream/1.0.0"
	// maxToken bounds one multistream answer (js-libp2p's limit is 1 KiB).
	maxToken = 1024
	// Timeout bounds one ping when the context has no earlier deadline.
	Timeout = 10 * time.Second
)

// Request is what js-libp2p writes first on a ping stream: the
// multistream-select header and the protocol, each length-prefixed with a
// trailing newline, in one write.
var Request = framing.Append(framing.Append(nil, []byte(Multistream+"\n")), []byte(ping.ID+"\n"))

// ErrRefused means the other side answered something other than the ping
// protocol (for instance "na").
var ErrRefused = errors.New("browserping: ping protocol refused")

// Ping makes one ping on a new stream of c, as js-libp2p does.
func Ping(ctx context.Context, c network.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	s, err := c.NewStream(ctx)
	if err != nil {
		return err
	}
	if err := exchange(ctx, s); err != nil {
		_ = s.Reset()
		return err
	}
	return nil
}

func exchange(ctx context.Context, s network.Stream) error {
	if d, ok := ctx.Deadline(); ok {
		if err := s.SetDeadline(d); err != nil {
			return err
		}
	}
	if _, err := s.Write(Request); err != nil {
		return err
	}
	r := bufio.NewReaderSize(s, 64)
	for _, want := range []string{Multistream, string(ping.ID)} {
		tok, err := framing.Read(r, maxToken)
		if err != nil {
			return fmt.Errorf("browserping: reading the multistream answer: %w", err)
		}
		if got := string(bytes.TrimSuffix(tok, []byte("\n"))); got != want {
			return fmt.Errorf("%w: answered %q to %q", ErrRefused, got, want)
		}
	}
	var out, in [ping.PingSize]byte
	_, _ = rand.Read(out[:])
	if _, err := s.Write(out[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(r, in[:]); err != nil {
		return fmt.Errorf("browserping: reading the echo: %w", err)
	}
	if in != out {
		return errors.New("browserping: the echo differs from the ping")
	}
	// js-libp2p's close: its FIN, then the other side's.
	if err := s.CloseWrite(); err != nil {
		return err
	}
	var rest [1]byte
	if n, err := r.Read(rest[:]); n > 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("browserping: the stream did not end after the echo (%d bytes, %v)", n, err)
	}
	return s.Close()
}
