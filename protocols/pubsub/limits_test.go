package pubsub

import (
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/registry"
)

func TestDefaultLimitsAreValid(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsReportEveryBadFieldByItsKey(t *testing.T) {
	l := Limits{AnnounceInterval: setting.Duration(time.Second), AnnouncementsPerInterval: 500}
	err := l.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"announcements_per_interval", "max_announcement_size", "max_addrs", "max_message_size", "message_rate", "message_burst"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("no problem reported for %s in %v", key, err)
		}
	}
}

func TestTopicListsAreChecked(t *testing.T) {
	policy := registry.Policy{AllowPrefixes: []string{"app/"}}
	err := ValidateTopics([]string{"app/a", "", "other", "app/a"}, []string{"app/a", "chat"}, policy)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"discovery_topics[1]", "discovery_topics[2]", "discovery_topics[3]", "topics[0]"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("no problem reported for %s in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"chat"`) {
		t.Errorf("a relayed topic outside the namespace policy was refused: %v", err)
	}
	if err := ValidateTopics([]string{DiscoveryTopic}, nil, registry.Policy{}); err != nil {
		t.Errorf("the default topic: %v", err)
	}
}

func TestNewRefusesBadTopicsAndNilCollaborators(t *testing.T) {
	for name, opt := range map[string]Option{
		"empty topic": WithRelayedTopics(""),
		"nil records": WithRecords(nil),
		"nil logger":  WithLogger(nil),
		"nil limits":  WithLimitObserver(nil),
		"bad limits":  WithLimits(Limits{}),
	} {
		if _, err := New(nil, nil, opt); err == nil || !strings.HasPrefix(err.Error(), "pubsub: ") {
			t.Errorf("%s: err %v, want a pubsub error", name, err)
		}
	}
}

func TestTheBurstsOfAnIntervalAddUpToAnnouncementsPerInterval(t *testing.T) {
	for _, k := range []int{1, 2, 3, 4, 5, 30, 32, 33, 1000} {
		l := DefaultLimits()
		l.AnnouncementsPerInterval = k
		sum, largest := 0, 0
		for n := range l.bursts() {
			sum += l.burstSize(n)
			largest = max(largest, l.burstSize(n))
		}
		if _, perBurst := l.AnnounceSchedule(); sum != k || perBurst != largest {
			t.Errorf("announcements_per_interval %d: bursts add up to %d, largest %d, schedule says %d", k, sum, largest, perBurst)
		}
	}
}
