package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ws-star/rendezvous/registry"
)

// run keeps a session with the bucket going: open it, take the lease,
// publish what waited, load the local copy, then follow the watch. Any
// trouble ends the session; the next one starts after a backoff.
func (r *Registry) run() {
	defer r.wg.Done()
	backoff := 250 * time.Millisecond
	first := true
	var lastWarn time.Time
	started := time.Now()
	for r.ctx.Err() == nil {
		if first {
			// Give the other nodes one heartbeat to show up, so their members
			// are shown from the first load on instead of a second later.
			first = false
			if !r.sleep(r.heartbeatInterval() + 100*time.Millisecond) {
				return
			}
		}
		err := r.session()
		if r.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errResync) {
			backoff = 250 * time.Millisecond
			continue
		}
		r.setDegraded("cluster session ended", err)
		if time.Since(lastWarn) > 30*time.Second && (r.synced.Load() || time.Since(started) > 5*time.Second) {
			// Rate-limited: a node that cannot reach JetStream must say why,
			// not fill the log; a new cluster electing its first leader is
			// not worth a warning.
			lastWarn = time.Now()
			r.log.Warn("cluster: no session with JetStream; serving from the local copy and retrying", "err", err)
		}
		if !r.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (r *Registry) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// setDegraded makes writes apply locally until the next session is in sync.
func (r *Registry) setDegraded(what string, err error) {
	if r.healthy.Swap(false) {
		r.unhealthy.Store(time.Now().UnixNano())
		r.log.Warn("cluster: degraded, serving from the local copy", "cause", what, "err", err)
	}
	r.mt.Degraded()
}

func (r *Registry) bucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:         r.opts.lim.Bucket,
		Description:    "ws-star rendezvous registry",
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       max(r.opts.lim.Replicas, 1),
		LimitMarkerTTL: markerTTL,
		MaxValueSize:   maxValueSize,
	}
}

// openBucket opens the bucket, creating it when missing. An existing bucket
// is used as it is (its replicas may have been changed on purpose), but it
// must keep per-key TTLs, which expiry and leases rely on.
func (r *Registry) openBucket(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := r.js.KeyValue(ctx, r.opts.lim.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = r.js.CreateKeyValue(ctx, r.bucketConfig())
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = r.js.KeyValue(ctx, r.opts.lim.Bucket) // another node was first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %q: %w", r.opts.lim.Bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("bucket %q status: %w", r.opts.lim.Bucket, err)
	}
	if kvs, ok := st.(*jetstream.KeyValueBucketStatus); ok && kvs.LimitMarkerTTL() == 0 {
		return nil, fmt.Errorf("bucket %q exists without per-key TTLs (limit_marker_ttl); delete it or name another bucket", r.opts.lim.Bucket)
	}
	return kv, nil
}

func (r *Registry) session() error {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	opCtx, opCancel := context.WithTimeout(ctx, 5*time.Second)
	kv, err := r.openBucket(opCtx)
	if err != nil {
		opCancel()
		return err
	}
	s, err := r.js.Stream(opCtx, streamName(r.opts.lim.Bucket))
	opCancel()
	if err != nil {
		return fmt.Errorf("bucket stream: %w", err)
	}
	r.epoch.Store(uint64(max(s.CachedInfo().Created.UnixNano(), 0)))
	r.kv.Store(&kv)

	if r.leaseRev.Load() == 0 {
		rev, err := r.putLease(0)
		if err != nil {
			return fmt.Errorf("take lease: %w", err)
		}
		r.leaseRev.Store(rev)
	}
	if r.republish.Load() {
		if err := r.republishOwn(); err != nil {
			return fmt.Errorf("republish: %w", err)
		}
		r.republish.Store(false)
	}
	if err := r.flushPending(); err != nil {
		return fmt.Errorf("publish deferred writes: %w", err)
	}
	// Drain a resync request that this session already answers.
	select {
	case <-r.resync:
	default:
	}
	select {
	case <-r.stalled:
	default:
	}

	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	r.mt.ResyncStarted()
	seen := make(map[string]struct{})
	loading := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.resync:
			return errResync
		case <-r.stalled:
			return errWatchStalled
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil {
				if loading {
					loading = false
					r.finishLoad(seen)
					seen = nil
				}
				continue
			}
			if loading {
				seen[e.Key()] = struct{}{}
			}
			r.applyEntry(e)
			if !loading {
				r.mt.LagChanged(e.Delta())
			}
		}
	}
}

// applyEntry applies one key as the watch delivered it.
func (r *Registry) applyEntry(e jetstream.KeyValueEntry) {
	k := parseKey(e.Key())
	rev := e.Revision()
	present := e.Operation() == jetstream.KeyValuePut
	r.mu.Lock()
	switch {
	case k.kind == keyLease:
		r.leaseEntryLocked(k.inst, present, rev, e.Value())
	case k.kind == keyInvalid:
	case present:
		v, err := decodeValue(e.Value())
		if err != nil {
			r.log.Warn("cluster: ignoring a malformed value", "key", e.Key(), "rev", rev)
			break
		}
		r.putLocked(k, e.Key(), rev, v)
	default:
		r.removeLocked(k, e.Key(), rev, decodeReason(e.Value()))
	}
	r.mu.Unlock()
	r.markApplied(rev)
}

// finishLoad ends a full load: holds the local copy has but the bucket no
// longer does were removed while this node was not watching (their markers
// are gone), except this node's own, which it has just published. Holds of
// instances without a lease are garbage a janitor missed.
func (r *Registry) finishLoad(seen map[string]struct{}) {
	r.mu.Lock()
	var gone []*hold
	for _, holds := range r.st.members {
		for _, h := range holds {
			if _, ok := seen[h.key]; !ok && h.inst != r.inst && h.rev != 0 {
				gone = append(gone, h)
			}
		}
	}
	for _, h := range gone {
		r.removeLocked(parseKey(h.key), h.key, 0, registry.ReasonDisconnected)
	}
	var last uint64
	for inst := range r.st.byInst {
		if n := r.nodes[inst]; inst != r.inst && (n == nil || (!n.lease && !n.alive)) {
			if last == 0 {
				r.appliedMu.Lock()
				last = r.applied
				r.appliedMu.Unlock()
			}
			r.janitor(inst, last+1)
		}
	}
	r.mu.Unlock()
	r.synced.Store(true)
	r.healthy.Store(true)
	r.mt.Synced()
	r.log.Info("cluster: local copy in sync", "bucket", r.opts.lim.Bucket, "registrations", r.local.Stats().Registrations)
}
