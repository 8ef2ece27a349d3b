package cluster

import (
	"strconv"
	"strings"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
)

// Bounds of the limits.
const (
	// MaxReplicas is JetStream's largest replica count for a stream.
	MaxReplicas = 5
	// MaxNameLen bounds a bucket name and a NATS cluster name.
	MaxNameLen = 64
)

// Limits are the registry's settings on JetStream, part of the "cluster"
// section of the node's configuration file (docs/config.md), whose JSON keys
// the tags give.
type Limits struct {
	// Bucket is the JetStream key-value bucket holding the registry; it is
	// created when missing.
	Bucket string `json:"bucket"`
	// Replicas of the bucket when the registry creates it. 0 leaves the
	// choice to the node, which picks 3 when the cluster has three or more
	// servers, else 1; the registry alone takes 0 as 1.
	Replicas int `json:"replicas"`
	// LeaseTTL is how long a node may go without a heartbeat before the
	// others drop its peers. Heartbeats go every third of it.
	LeaseTTL setting.Duration `json:"lease_ttl"`
}

// DefaultLimits are the limits of a Registry given no WithLimits.
func DefaultLimits() Limits {
	return Limits{
		Bucket: "rendezvous",
		// Short, so the peers of a crashed node leave the other nodes'
		// views within seconds rather than at the end of their TTLs.
		LeaseTTL: setting.Duration(3 * time.Second),
	}
}

// Validate reports every field out of its bounds, as setting.Problems whose
// paths are the JSON keys.
func (l Limits) Validate() error {
	var ps setting.Problems
	if reason := NameProblem(l.Bucket); reason != "" {
		ps.Add("bucket", strconv.Quote(l.Bucket), reason)
	}
	if l.Replicas < 0 || l.Replicas > MaxReplicas {
		ps.Add("replicas", strconv.Itoa(l.Replicas), "must be from 0 to "+strconv.Itoa(MaxReplicas)+" (0 picks 3 with three or more servers, else 1)")
	}
	ps.DurRange("lease_ttl", l.LeaseTTL, 2*time.Second, time.Minute, "")
	if d := l.LeaseTTL.D(); d >= 2*time.Second && d <= time.Minute && d%time.Second != 0 {
		ps.Add("lease_ttl", setting.QuoteDuration(l.LeaseTTL), "must be whole seconds (JetStream TTLs are whole seconds)")
	}
	return ps.Err()
}

// NameProblem says what is wrong with a JetStream bucket or NATS cluster
// name, or "" when it is valid.
func NameProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxNameLen:
		return "must be at most " + strconv.Itoa(MaxNameLen) + " characters"
	case strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}):
		return "may contain only letters, digits, - and _"
	}
	return ""
}
