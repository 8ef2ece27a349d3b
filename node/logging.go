package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/libp2p/go-libp2p/gologshim"
)

// NewLogger builds the process logger and routes go-libp2p's own logs into
// the same handler, so an operator reads one stream in one format. go-libp2p
// logs per-peer events (every relay stream, for example) at Info; they are
// shown only at level debug, so info stays one line per node-level event.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	libp2pLevel := lv
	if lv > slog.LevelDebug {
		libp2pLevel = max(lv, slog.LevelWarn)
	}
	gologshim.SetDefaultHandler(minLevel{Handler: h, level: libp2pLevel})
	return slog.New(h), nil
}

// minLevel drops records below level before they reach the shared handler.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.level && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: m.Handler.WithAttrs(as), level: m.level}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: m.Handler.WithGroup(name), level: m.level}
}
