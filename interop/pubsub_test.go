package interop

import "testing"

// The interop/pubsub suites: js-libp2p 3.x apps built on
// @libp2p/pubsub-peer-discovery and @libp2p/gossipsub, configured as their
// READMEs configure them (only the interval shortened), against the real
// node serving the default discovery topic.

// TestPubsubDiscoveryAppsFindEachOtherThroughNode: two apps connected only to
// the node discover each other at their circuit addresses and ping each
// other through its relay (interop/pubsub/test/apps.test.js).
func TestPubsubDiscoveryAppsFindEachOtherThroughNode(t *testing.T) {
	runJSSuite(t, "pubsub", nil, "test/apps.test.js")
}

// TestPubsubDiscoveryAppsMeetWSStarAndRendezvousPeersAndLeave: an app
// discovers a /ws-star/1.0.0 member and a /rendezvous/1.0.0 registration of
// the topic's namespace and reaches them; a ws-star watcher and a DISCOVER
// find the app at its circuit address with its signed record; once stopped it
// leaves the view, DISCOVER and the node's pubsub gauges
// (interop/pubsub/test/members.test.js).
func TestPubsubDiscoveryAppsMeetWSStarAndRendezvousPeersAndLeave(t *testing.T) {
	runJSSuite(t, "pubsub", nil, "test/members.test.js")
}

// TestPubsubDiscoveryForgedJunkAndUnservedMessagesReachNoApp: a hostile app's
// announcements of other peers' keys, messages that are not announcements and
// messages on a topic the node does not serve reach no honest app, which
// receives only the node's announcements; /metrics counts each
// (interop/pubsub/test/hostile.test.js).
func TestPubsubDiscoveryForgedJunkAndUnservedMessagesReachNoApp(t *testing.T) {
	runJSSuite(t, "pubsub", nil, "test/hostile.test.js")
}
