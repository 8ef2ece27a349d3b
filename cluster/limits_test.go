package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
)

func TestDefaultLimitsAreValid(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsValidateReportsEveryBadField(t *testing.T) {
	l := Limits{Bucket: "a.b", Replicas: MaxReplicas + 1, LeaseTTL: setting.Duration(2500 * time.Millisecond)}
	var ps setting.Problems
	if !errors.As(l.Validate(), &ps) || len(ps) != 3 {
		t.Fatalf("Validate = %v, want a problem for each of bucket, replicas and lease_ttl", ps)
	}
}
