package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRepeatedServerErrorsAreLoggedOnceWithACount(t *testing.T) {
	var buf bytes.Buffer
	l := &natsLogger{log: slog.New(slog.NewTextHandler(&buf, nil))}
	for i := range 50 {
		l.Errorf("Error trying to connect to route (attempt %v): %v", i, "connection refused")
	}
	l.Warnf("another %s", "warning")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "attempt 0") || !strings.Contains(lines[1], "another warning") {
		t.Fatalf("logged:\n%s", buf.String())
	}
}
