package autotls

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
)

func TestClientMessagesAreLoggedOnceUntilACertificateLoads(t *testing.T) {
	logs := &bytes.Buffer{}
	failures := 0
	fl := newForgeLog(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})), func() { failures++ })
	log := fl.sugared().Named("acme")
	for range 3 {
		log.Errorw("could not get certificate", "error", "rate limited")
	}
	log.Errorw("registration refused", "error", "403")
	if failures != 4 {
		t.Fatalf("%d failures counted, want 4", failures)
	}
	if got := strings.Count(logs.String(), "could not get certificate"); got != 1 {
		t.Fatalf("repeated failure logged %d times:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "error=\"rate limited\"") || !strings.Contains(logs.String(), "registration refused") {
		t.Fatalf("cause or second failure missing:\n%s", logs)
	}
	fl.succeeded()
	log.Errorw("could not get certificate", "error", "rate limited")
	if got := strings.Count(logs.String(), "could not get certificate"); got != 2 {
		t.Fatalf("a failure after a success logged %d times in all, want 2", got)
	}
	for range 2 {
		log.Infow("certificate will not be requested as we don't have any public addrs")
	}
	if got := strings.Count(logs.String(), "public addrs"); got != 1 {
		t.Fatalf("a repeated notice logged %d times, want once", got)
	}
	if !fl.Enabled(zapcore.DebugLevel) {
		t.Fatal("debug entries dropped before the node's level decides")
	}
}
