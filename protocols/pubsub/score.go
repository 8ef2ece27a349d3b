package pubsub

import (
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer scoring: a rejected message (junk, forged, bad signature, too large)
// costs its sender; three push it under the graylist threshold, where the
// node ignores everything it sends, and the penalty fades over an hour. The
// IP colocation factor is off: many browsers share a NAT address, and the
// resource manager already caps connections per IP.
const (
	invalidMessageWeight = -10
	invalidMessageDecay  = time.Hour
)

func scoreParams(topics []string) (*gs.PeerScoreParams, *gs.PeerScoreThresholds) {
	tp := make(map[string]*gs.TopicScoreParams, len(topics))
	for _, t := range topics {
		tp[t] = &gs.TopicScoreParams{
			TopicWeight:                    1,
			TimeInMeshQuantum:              time.Second,
			InvalidMessageDeliveriesWeight: invalidMessageWeight,
			InvalidMessageDeliveriesDecay:  gs.ScoreParameterDecay(invalidMessageDecay),
		}
	}
	params := &gs.PeerScoreParams{
		Topics:                    tp,
		AppSpecificScore:          func(peer.ID) float64 { return 0 },
		BehaviourPenaltyWeight:    -1,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     gs.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             time.Second,
		DecayToZero:               0.01,
		RetainScore:               10 * time.Minute,
		SkipAtomicValidation:      true,
	}
	thresholds := &gs.PeerScoreThresholds{
		GossipThreshold:             -10,
		PublishThreshold:            -50,
		GraylistThreshold:           -80,
		AcceptPXThreshold:           100,
		OpportunisticGraftThreshold: 5,
	}
	return params, thresholds
}
