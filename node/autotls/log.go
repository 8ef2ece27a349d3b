package autotls

import (
	"context"
	"log/slog"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// forgeLog carries the p2p-forge client's and certmagic's zap logging into
// the node's slog logger. An error is a failed attempt (forge unhealthy or
// refusing, ACME order or renewal failed): it is counted and logged as a
// warning with its cause. Each message is logged once at its level; the
// retries that repeat it (the client's "no public address yet", a failure
// again) go to Debug until a certificate is loaded again.
type forgeLog struct {
	log      *slog.Logger
	attrs    []slog.Attr
	name     string
	failures func()

	mu   *sync.Mutex
	seen map[string]bool
}

func newForgeLog(log *slog.Logger, failures func()) *forgeLog {
	return &forgeLog{log: log, failures: failures, mu: new(sync.Mutex), seen: map[string]bool{}}
}

// sugared is the logger the client takes.
func (f *forgeLog) sugared() *zap.SugaredLogger { return zap.New(f).Sugar() }

// succeeded forgets the failures seen, so the next one is logged again.
func (f *forgeLog) succeeded() {
	f.mu.Lock()
	clear(f.seen)
	f.mu.Unlock()
}

func (f *forgeLog) Enabled(zapcore.Level) bool { return true }

func (f *forgeLog) With(fields []zapcore.Field) zapcore.Core {
	c := *f
	c.attrs = append(append([]slog.Attr{}, f.attrs...), attrs(fields)...)
	return &c
}

func (f *forgeLog) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, f)
}

func (f *forgeLog) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := slog.LevelDebug
	switch {
	case e.Level >= zapcore.ErrorLevel:
		if f.failures != nil {
			f.failures()
		}
		level = slog.LevelWarn
	case e.Level == zapcore.WarnLevel:
		level = slog.LevelWarn
	case e.Level == zapcore.InfoLevel:
		level = slog.LevelInfo
	}
	if level > slog.LevelDebug {
		key := e.LoggerName + "\x00" + e.Message
		f.mu.Lock()
		if f.seen[key] {
			level = slog.LevelDebug
		}
		f.seen[key] = true
		f.mu.Unlock()
	}
	ctx := context.Background()
	if !f.log.Enabled(ctx, level) {
		return nil
	}
	all := append(append([]slog.Attr{}, f.attrs...), attrs(fields)...)
	if e.LoggerName != "" {
		all = append(all, slog.String("logger", e.LoggerName))
	}
	f.log.LogAttrs(ctx, level, e.Message, all...)
	return nil
}

func (f *forgeLog) Sync() error { return nil }

// attrs turns zap fields into slog attributes through zap's own encoder.
func attrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, fl := range fields {
		fl.AddTo(enc)
	}
	out := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		out = append(out, slog.Any(k, v))
	}
	return out
}
