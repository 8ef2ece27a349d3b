package pubsub

import (
	"fmt"
	"strconv"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/registry"
)

// ValidateTopics reports every problem of the topic lists, by the keys of the
// node's config ("discovery_topics", "topics"): an empty, overlong or repeated
// name, a topic in both lists, a discovery topic that is not a namespace the
// policy allows (it is one, shared with the other protocols), more than
// MaxTopics in all.
func ValidateTopics(discovery, relayed []string, policy registry.Policy) error {
	var ps setting.Problems
	seen := make(map[string]string)
	check := func(key string, list []string, isDiscovery bool) {
		for i, t := range list {
			path := fmt.Sprintf("%s[%d]", key, i)
			switch {
			case t == "":
				ps.Add(path, `""`, "empty topic name")
				continue
			case len(t) > MaxTopicLen:
				ps.Add(path, strconv.Quote(t), fmt.Sprintf("longer than %d bytes", MaxTopicLen))
				continue
			}
			if prev, dup := seen[t]; dup {
				ps.Add(path, strconv.Quote(t), "already listed as "+prev)
				continue
			}
			seen[t] = path
			if isDiscovery {
				if err := policy.Check(t); err != nil {
					ps.Add(path, strconv.Quote(t), "not a namespace the node serves: "+err.Error())
				}
			}
		}
	}
	check("discovery_topics", discovery, true)
	check("topics", relayed, false)
	if n := len(discovery) + len(relayed); n > MaxTopics {
		ps.Add("topics", strconv.Itoa(n)+" topics", fmt.Sprintf("at most %d with discovery_topics", MaxTopics))
	}
	return ps.Err()
}
