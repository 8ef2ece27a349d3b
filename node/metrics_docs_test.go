package node

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestEveryProjectMetricIsDocumented keeps docs/metrics.md complete: every
// rendezvous_* metric the node registers must have a row there.
func TestEveryProjectMetricIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	// Every listener, so that every transport's metrics are registered.
	// AutoTLS too: on loopback only it never asks the forge.
	c := udpConfig(t)
	c.AutoTLS.Enabled = true
	n := startNode(t, c)
	descs := make(chan *prometheus.Desc, 1024)
	go func() {
		n.Metrics().Describe(descs)
		close(descs)
	}()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	seen := 0
	for d := range descs {
		m := name.FindStringSubmatch(d.String())
		if m == nil || !strings.HasPrefix(m[1], "rendezvous_") {
			continue
		}
		seen++
		if !strings.Contains(string(doc), "`"+m[1]) {
			t.Errorf("metric %s is not documented in docs/metrics.md", m[1])
		}
	}
	if seen < 10 {
		t.Fatalf("only %d rendezvous_* metrics registered; the services' metrics are missing", seen)
	}
}
