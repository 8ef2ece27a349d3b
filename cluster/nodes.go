package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ws-star/rendezvous/registry"
)

// NodeInfo describes one node process of the cluster, as its heartbeats
// and its lease key carry it.
type NodeInfo struct {
	Instance string    `json:"instance"`
	Peer     string    `json:"peer"`
	Addrs    []string  `json:"addrs,omitempty"`
	Version  string    `json:"version,omitempty"`
	Started  time.Time `json:"started"`
	// Bye is set in the heartbeat a node sends as it departs.
	Bye bool `json:"bye,omitempty"`
}

// NodeStatus is a node as this one sees it, for status pages.
type NodeStatus struct {
	NodeInfo
	Self     bool      `json:"self"`
	Alive    bool      `json:"alive"`
	LastSeen time.Time `json:"last_seen"`
}

type nodeState struct {
	info     NodeInfo
	alive    bool
	lastSeen time.Time
	lease    bool // its lease key is in the bucket
}

// maxHeartbeatSize bounds what a heartbeat may make this node decode.
const maxHeartbeatSize = 16 << 10

func (r *Registry) heartbeatSubject() string {
	return "_RENDEZVOUS." + r.opts.lim.Bucket + ".heartbeat"
}

func (r *Registry) selfInfo() NodeInfo {
	info := NodeInfo{Instance: r.inst, Peer: r.h.ID().String(), Version: r.opts.version, Started: time.Now().UTC().Truncate(time.Second)}
	if n := r.nodes[r.inst]; n != nil {
		info.Started = n.info.Started
	}
	for _, a := range r.h.Addrs() {
		info.Addrs = append(info.Addrs, a.String())
	}
	return info
}

// Nodes lists the node processes this one knows, itself first.
func (r *Registry) Nodes() []NodeStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]NodeStatus, 0, len(r.nodes))
	for inst, n := range r.nodes {
		if !n.alive && !n.lease {
			continue
		}
		out = append(out, NodeStatus{NodeInfo: n.info, Self: inst == r.inst, Alive: r.aliveLocked(inst), LastSeen: n.lastSeen})
	}
	slices.SortFunc(out, func(a, b NodeStatus) int {
		switch {
		case a.Self != b.Self:
			if a.Self {
				return -1
			}
			return 1
		case a.Peer < b.Peer:
			return -1
		case a.Peer > b.Peer:
			return 1
		}
		return 0
	})
	return out
}

// startHeartbeats subscribes to the other nodes' heartbeats and starts
// sending this node's, the liveness check and the lease renewals.
func (r *Registry) startHeartbeats() error {
	sub, err := r.nc.Subscribe(r.heartbeatSubject(), r.onHeartbeat)
	if err != nil {
		return err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { _ = sub.Unsubscribe() }()
		beat := time.NewTicker(r.heartbeatInterval())
		check := time.NewTicker(r.opts.lim.LeaseTTL.D() / 6)
		defer beat.Stop()
		defer check.Stop()
		r.sendHeartbeat(false)
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-beat.C:
				r.sendHeartbeat(false)
			case <-check.C:
				r.checkNodes()
			}
		}
	}()
	// The lease has a loop of its own: a renewal waiting on a JetStream
	// election must not hold back the heartbeats.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.heartbeatInterval())
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
				r.renewLease()
			}
		}
	}()
	return nil
}

// heartbeatInterval is a third of the lease TTL, at most a second: a long
// lease tolerates slow networks without making heartbeats rare.
func (r *Registry) heartbeatInterval() time.Duration {
	return min(r.opts.lim.LeaseTTL.D()/3, time.Second)
}

func (r *Registry) sendHeartbeat(bye bool) {
	r.mu.Lock()
	info := r.selfInfo()
	departed := r.departed
	r.mu.Unlock()
	if departed && !bye {
		return
	}
	info.Bye = bye
	b, err := json.Marshal(info)
	if err != nil {
		return
	}
	// Core NATS: no JetStream leader needed, so liveness does not wait on
	// an election.
	_ = r.nc.Publish(r.heartbeatSubject(), b)
}

func (r *Registry) onHeartbeat(m *nats.Msg) {
	if len(m.Data) > maxHeartbeatSize {
		return
	}
	var info NodeInfo
	if err := json.Unmarshal(m.Data, &info); err != nil || !validInstance(info.Instance) || info.Instance == r.inst {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[info.Instance]
	if n == nil {
		if len(r.nodes) >= maxNodes || info.Bye {
			return
		}
		n = &nodeState{}
		r.nodes[info.Instance] = n
		r.log.Info("cluster: node joined", "peer", info.Peer, "instance", info.Instance)
	}
	n.info = info
	n.lastSeen = time.Now()
	switch {
	case info.Bye && n.alive:
		n.alive = false
		r.log.Info("cluster: node departed", "peer", info.Peer, "instance", info.Instance)
		r.instanceChangedLocked(info.Instance, registry.ReasonDisconnected)
	case !info.Bye && !n.alive:
		n.alive = true
		r.instanceChangedLocked(info.Instance, registry.ReasonNone)
	}
	r.mt.NodesCounted(r.aliveCountLocked())
}

// checkNodes declares nodes whose heartbeats stopped dead and forgets the
// holds of those whose lease is gone too.
func (r *Registry) checkNodes() {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for inst, n := range r.nodes {
		if inst == r.inst {
			continue
		}
		if n.alive && now.Sub(n.lastSeen) > r.opts.lim.LeaseTTL.D() {
			n.alive = false
			r.log.Warn("cluster: node stopped sending heartbeats; dropping its peers", "peer", n.info.Peer, "instance", inst)
			r.instanceChangedLocked(inst, registry.ReasonDisconnected)
		}
		if !n.alive && !n.lease && now.Sub(n.lastSeen) > leaseKeyFactor*r.opts.lim.LeaseTTL.D() {
			r.st.dropInstance(inst)
			delete(r.nodes, inst)
		}
	}
	r.mt.NodesCounted(r.aliveCountLocked())
}

// instanceChangedLocked re-derives every member inst holds, after inst came
// or went.
func (r *Registry) instanceChangedLocked(inst string, reason registry.LeftReason) {
	for _, mk := range r.st.holdsOf(inst) {
		r.deriveLocked(mk, 0, reason)
	}
}

func (r *Registry) pendingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func (r *Registry) aliveCountLocked() int {
	c := 0
	for inst := range r.nodes {
		if r.aliveLocked(inst) {
			c++
		}
	}
	return c
}

// renewLease refreshes this node's lease key, compare-and-swap on its last
// revision: a mismatch means the lease lapsed (the node stalled, or was cut
// off longer than the lease key lives) and the janitors may have removed
// this node's holds, which the next session then writes again.
func (r *Registry) renewLease() {
	kvp := r.kv.Load()
	last := r.leaseRev.Load()
	if kvp == nil || last == 0 || r.closed.Load() {
		return
	}
	r.mu.Lock()
	departed := r.departed
	r.mu.Unlock()
	if departed {
		return
	}
	rev, err := r.putLease(last)
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		r.leaseRev.Store(rev)
		r.mt.LeaseRenewed()
		r.checkWatch(rev, time.Now())
		switch {
		case !r.healthy.Load() && r.synced.Load():
			r.requestResync() // JetStream is back: publish what waited, reload
		case r.healthy.Load() && r.pendingCount() > 0:
			// A write deferred just as the session came back.
			if err := r.flushPending(); err != nil {
				r.setDegraded("publish deferred writes", err)
			}
		}
	case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
		r.mt.LeaseLost()
		r.log.Warn("cluster: lease lapsed; taking it again and republishing this node's holds")
		r.leaseRev.Store(0)
		r.republish.Store(true)
		r.setDegraded("lease lost", err)
		r.requestResync()
	default:
		r.mt.LeaseRenewalFailed()
		r.setDegraded("lease renewal failed", err)
	}
}

// putLease writes the lease key; last is the revision it must still have
// (0: take it afresh).
func (r *Registry) putLease(last uint64) (uint64, error) {
	r.mu.Lock()
	b, err := json.Marshal(r.selfInfo())
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	m := nats.NewMsg(subjectOf(r.opts.lim.Bucket, leaseKey(r.inst)))
	m.Data = b
	popts := []jetstream.PublishOpt{jetstream.WithMsgTTL(leaseKeyFactor * r.opts.lim.LeaseTTL.D())}
	if last != 0 {
		popts = append(popts, jetstream.WithExpectLastSequencePerSubject(last))
	}
	// A lease TTL, not the heartbeat interval: a node 500 ms from the
	// stream leader needs over a second for the round trips of one write,
	// and with a 1 s deadline it never held its lease at all (see
	// docs/reliability.md, Cluster faults). The lease loop waits meanwhile;
	// the heartbeats do not.
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.lim.LeaseTTL.D())
	defer cancel()
	ack, err := r.js.PublishMsg(ctx, m, popts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// leaseEntry applies a lease key from the watch.
func (r *Registry) leaseEntryLocked(inst string, present bool, rev uint64, data []byte) {
	if inst == r.inst {
		if !present && !r.departed {
			r.leaseRev.Store(0)
			r.republish.Store(true)
			r.requestResync()
		}
		return
	}
	n := r.nodes[inst]
	if n == nil {
		if !present || len(r.nodes) >= maxNodes {
			if !present {
				r.janitor(inst, rev)
			}
			return
		}
		n = &nodeState{}
		r.nodes[inst] = n
	}
	n.lease = present
	if present {
		var info NodeInfo
		if len(data) <= maxHeartbeatSize && json.Unmarshal(data, &info) == nil && info.Instance == inst {
			n.info = info
		}
		return
	}
	r.janitor(inst, rev)
}

// janitor removes a gone instance's holds from the bucket: every key under
// its prefix older than rev, the revision its lease ended at. Anything the
// instance wrote after re-taking its lease is newer and stays. Every node
// does this; a purge is idempotent.
func (r *Registry) janitor(inst string, rev uint64) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(r.ctx, r.opts.writeTimeout)
		defer cancel()
		s, err := r.js.Stream(ctx, streamName(r.opts.lim.Bucket))
		if err == nil {
			err = s.Purge(ctx, jetstream.WithPurgeSubject(subjectOf(r.opts.lim.Bucket, instFilter(inst))), jetstream.WithPurgeSequence(rev))
		}
		if err != nil && r.ctx.Err() == nil {
			r.log.Debug("cluster: janitor purge failed", "instance", inst, "err", err)
		}
	}()
}
