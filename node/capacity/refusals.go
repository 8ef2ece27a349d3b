package capacity

import (
	"errors"
	"strings"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/limits"
)

// observedResources reports the resource manager's refusals of connections
// and streams by the limit that made them. It wraps the manager instead of
// tracing it: a trace reporter is called, under one lock, on every stream
// and memory event of every peer.
type observedResources struct {
	network.ResourceManager
	obs limits.Observer
}

func (r observedResources) OpenConnection(dir network.Direction, usefd bool, endpoint ma.Multiaddr) (network.ConnManagementScope, error) {
	s, err := r.ResourceManager.OpenConnection(dir, usefd, endpoint)
	if err != nil {
		r.obs.Refused(limitOfResourceErr(err))
	}
	return s, err
}

func (r observedResources) OpenStream(p peer.ID, dir network.Direction) (network.StreamManagementScope, error) {
	s, err := r.ResourceManager.OpenStream(p, dir)
	if err != nil {
		r.obs.Refused(limitOfResourceErr(err))
	}
	return s, err
}

// limitOfResourceErr names the setting behind a resource manager error. Its
// errors read "<scope>: [<ancestor scope>: ]cannot reserve <resource>:
// resource limit exceeded" (the last scope named is the one that was full),
// or name the per-IP limiters.
func limitOfResourceErr(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "rate limit exceeded"):
		return limits.ConnRatePerIP
	case strings.HasPrefix(msg, "connections per ip limit exceeded"):
		return limits.ConnsPerIP
	}
	scopes, what, _ := strings.Cut(msg, "cannot reserve ")
	scopes = strings.TrimSuffix(scopes, ": ")
	full := scopes[strings.LastIndex(scopes, ": ")+1:]
	full = strings.TrimSpace(full)
	switch {
	case strings.HasPrefix(full, "peer:"), strings.HasPrefix(full, "conn-"):
		return limits.PeerResources
	case strings.Contains(full, circuit.ServiceName), strings.Contains(full, "/libp2p/circuit/relay"):
		return limits.RelayActiveCircuits
	case strings.HasPrefix(what, "file descriptor"):
		return limits.FileDescriptors
	case errors.As(err, new(*rcmgr.ErrMemoryLimitExceeded)):
		return limits.Memory
	case strings.Contains(what, "connection"):
		return limits.Connections
	}
	return limits.Streams
}
