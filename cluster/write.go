package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ws-star/rendezvous/registry"
)

// pendingWrite is a write JetStream has not taken yet; n tells a newer
// write of the same key from the one being flushed.
type pendingWrite struct {
	op op
	n  uint64
}

// op is one write to a key: a put of val, or a removal with reason.
type op struct {
	key    string
	put    bool
	val    value
	reason registry.LeftReason
}

// ttlSlack keeps a TTL key in the bucket a little past its expiry: every
// node's local copy expires the member at the expiry itself, and JetStream
// removes the key on a one-second tick.
const ttlSlack = 2 * time.Second

// message builds the JetStream message for o: a removal is a purge marker
// whose body is the reason, itself removed after markerTTL.
func (r *Registry) message(o op) (*nats.Msg, []jetstream.PublishOpt) {
	m := nats.NewMsg(subjectOf(r.opts.lim.Bucket, o.key))
	if !o.put {
		m.Header.Set("KV-Operation", "PURGE")
		m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
		m.Data = encodeReason(o.reason)
		return m, []jetstream.PublishOpt{jetstream.WithMsgTTL(markerTTL)}
	}
	m.Data = encodeValue(o.val)
	if o.val.expiry.IsZero() {
		return m, nil
	}
	ttl := time.Until(o.val.expiry) + ttlSlack
	ttl = ttl.Truncate(time.Second) + time.Second // whole seconds, rounded up
	return m, []jetstream.PublishOpt{jetstream.WithMsgTTL(ttl)}
}

// write sends o to JetStream and waits until the local copy has applied it.
// While JetStream is unhealthy (or the write fails) o is applied locally at
// once and kept for the recovery to publish; after Depart it is only
// applied locally.
func (r *Registry) write(o op) {
	r.mu.Lock()
	departed := r.departed
	r.mu.Unlock()
	if departed {
		r.applyLocal(o, 0, false)
		return
	}
	if r.healthy.Load() {
		rev, err := r.publish(o)
		if err == nil {
			r.mt.WritePublished()
			if !r.waitApplied(rev, r.opts.writeTimeout) {
				// The write is in the bucket; the watch is late.
				r.applyLocal(o, rev, false)
			}
			return
		}
		r.mt.WriteFailed()
		r.setDegraded("write failed", err)
	}
	r.mt.WriteDeferred()
	r.applyLocal(o, 0, true)
}

func (r *Registry) publish(o op) (uint64, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.writeTimeout)
	defer cancel()
	m, popts := r.message(o)
	ack, err := r.js.PublishMsg(ctx, m, popts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// applyLocal applies o to the local copy as if the watch had delivered it at
// rev (0: not in the bucket yet); keep records it for the recovery.
func (r *Registry) applyLocal(o op, rev uint64, keep bool) {
	k := parseKey(o.key)
	r.mu.Lock()
	defer r.mu.Unlock()
	if keep && !r.departed {
		r.pendingN++
		r.pending[o.key] = pendingWrite{op: o, n: r.pendingN}
		r.mt.PendingWritesChanged(len(r.pending))
	}
	if o.put {
		r.putLocked(k, o.key, rev, o.val)
	} else {
		r.removeLocked(k, o.key, rev, o.reason)
	}
}

// flushPending publishes what was applied locally while JetStream was away.
// It stops at the first failure, keeping the rest.
func (r *Registry) flushPending() error {
	r.mu.Lock()
	writes := make([]pendingWrite, 0, len(r.pending))
	for _, w := range r.pending {
		writes = append(writes, w)
	}
	r.mu.Unlock()
	for _, w := range writes {
		if _, err := r.publish(w.op); err != nil {
			return err
		}
		r.mu.Lock()
		if cur, ok := r.pending[w.op.key]; ok && cur.n == w.n {
			delete(r.pending, w.op.key)
		}
		r.mt.PendingWritesChanged(len(r.pending))
		r.mu.Unlock()
	}
	return nil
}

// republishOwn writes every hold of this instance again, after the lease
// was lost and the janitors may have purged them.
func (r *Registry) republishOwn() error {
	r.mu.Lock()
	var ops []op
	for _, mk := range r.st.holdsOf(r.inst) {
		for _, h := range r.st.members[mk] {
			if h.inst == r.inst {
				ops = append(ops, op{key: h.key, put: true, val: h.val})
			}
		}
	}
	r.mu.Unlock()
	for _, o := range ops {
		if _, err := r.publish(o); err != nil {
			return err
		}
	}
	r.log.Info("cluster: republished this node's holds", "holds", len(ops))
	return nil
}

func (r *Registry) markApplied(rev uint64) {
	r.appliedMu.Lock()
	if rev > r.applied {
		r.applied = rev
		if r.appliedCh != nil {
			close(r.appliedCh)
			r.appliedCh = nil
		}
	}
	r.appliedMu.Unlock()
}

// waitApplied waits until the local copy has applied revision rev.
func (r *Registry) waitApplied(rev uint64, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		r.appliedMu.Lock()
		if r.applied >= rev {
			r.appliedMu.Unlock()
			return true
		}
		if r.appliedCh == nil {
			r.appliedCh = make(chan struct{})
		}
		ch := r.appliedCh
		r.appliedMu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-r.ctx.Done():
			return false
		}
	}
}
