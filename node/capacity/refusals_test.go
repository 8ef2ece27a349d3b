package capacity

import (
	"errors"
	"testing"
)

func TestResourceErrorsAreNamedByTheScopeThatWasFull(t *testing.T) {
	for msg, want := range map[string]string{
		"conn-3: system: cannot reserve inbound connection: resource limit exceeded":      "resources.max_connections",
		"conn-3: transient: cannot reserve inbound connection: resource limit exceeded":   "resources.max_connections",
		"conn-3: system: cannot reserve file descriptor: resource limit exceeded":         "resources.max_file_descriptors",
		"stream-9: system: cannot reserve inbound stream: resource limit exceeded":        "resources.max_streams",
		"stream-9: peer:12D3KooW: cannot reserve inbound stream: resource limit exceeded": "resources (per-peer scope)",
		"conn-3: cannot reserve inbound connection: resource limit exceeded":              "resources (per-peer scope)",
		"rate limit exceeded": "resources.conn_rate_per_ip",
		"connections per ip limit exceeded for /ip4/1.2.3.4/tcp/1/ws":                       "resources.conns_per_ip",
		"stream-9: service:libp2p.relay/v2: cannot reserve stream: resource limit exceeded": "relay.max_active_circuits",
	} {
		if got := limitOfResourceErr(errors.New(msg)); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}
