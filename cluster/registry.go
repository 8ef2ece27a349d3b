// Package cluster lets several nodes share one namespace space: a
// registry.Registry kept in a NATS JetStream key-value bucket, and the NATS
// server a node can run inside itself so that a few nodes form a cluster
// with no other process to deploy.
//
// Each node keeps a local copy (a registry.Memory) fed by one watch of the
// bucket and answers every read from it; writes go to JetStream and return
// once the local copy has applied them, so a peer reads its own writes.
// Node processes announce themselves with heartbeats over core NATS; a
// node's live members hang off those, so a dead node costs no write per peer
// and is noticed even while JetStream elects a new leader. When JetStream is
// unreachable the node keeps serving from its local copy, applies its own
// peers' changes locally and publishes them once it is back.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/registry"
)

// Registry is a registry.Registry on a JetStream key-value bucket.
type Registry struct {
	h     host.Host
	nc    *nats.Conn
	js    jetstream.JetStream
	local *registry.Memory
	inst  string
	opts  options
	log   *slog.Logger

	mt        MetricsTracer
	metricSet *promreg.Set // what Close unregisters; nil without a Registerer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	// mu guards the raw state, the node table and the calls that apply them
	// to the local copy (whose subscribers never call back in).
	mu       sync.Mutex
	st       state
	nodes    map[string]*nodeState
	pending  map[string]pendingWrite // per key, the latest write JetStream has not taken
	pendingN uint64
	departed bool

	healthy   atomic.Bool  // synced and JetStream took the last write
	unhealthy atomic.Int64 // when healthy last went false (Unix ns)
	synced    atomic.Bool  // the first full load has been applied
	epoch     atomic.Uint64
	kv        atomic.Pointer[jetstream.KeyValue]
	leaseRev  atomic.Uint64
	republish atomic.Bool // the lease was lost: our keys may be gone
	resync    chan struct{}
	stalled   chan struct{} // the watch missed this node's own write (stall.go)
	probe     watchProbe

	appliedMu sync.Mutex
	applied   uint64
	appliedCh chan struct{}
}

var _ registry.Registry = (*Registry)(nil)

// New starts a registry for host h on the NATS connection nc, which it does
// not close. It returns at once: the bucket is created or opened, the lease
// taken and the local copy loaded in the background, and retried until
// they succeed; until then Ready reports false and writes apply locally.
func New(h host.Host, nc *nats.Conn, opts ...Option) (*Registry, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var mt MetricsTracer = nopTracer{}
	var metricSet *promreg.Set
	if o.registerer != nil {
		t, err := newPromTracer(o.registerer)
		if err != nil {
			return nil, err
		}
		mt, metricSet = t, t.set
	}
	localOpts := []registry.Option{
		registry.WithLimits(o.registryLimits),
		registry.WithPolicy(o.policy),
		registry.WithLogger(o.logger),
		registry.WithFirstSeq(0),
	}
	if o.registerer != nil {
		localOpts = append(localOpts, registry.WithRegisterer(o.registerer))
	}
	local, err := registry.New(localOpts...)
	if err != nil {
		metricSet.Unregister()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registry{
		h:         h,
		nc:        nc,
		js:        js,
		local:     local,
		inst:      newInstanceID(),
		opts:      o,
		log:       o.logger,
		mt:        mt,
		metricSet: metricSet,
		ctx:       ctx,
		cancel:    cancel,
		st:        newState(),
		nodes:     make(map[string]*nodeState),
		pending:   make(map[string]pendingWrite),
		resync:    make(chan struct{}, 1),
		stalled:   make(chan struct{}, 1),
	}
	r.nodes[r.inst] = &nodeState{info: r.selfInfo(), alive: true, lastSeen: time.Now()}
	if err := r.startHeartbeats(); err != nil {
		cancel()
		_ = r.local.Close()
		metricSet.Unregister()
		return nil, err
	}
	nc.SetDisconnectErrHandler(func(_ *nats.Conn, err error) {
		r.mt.ConnectionChanged(false)
		if r.closed.Load() {
			return // the node closes the connection after the registry
		}
		r.setDegraded("nats disconnected", err)
	})
	nc.SetReconnectHandler(func(*nats.Conn) {
		r.mt.ConnectionChanged(true)
		r.log.Info("cluster: reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		r.requestResync()
	})
	mt.ConnectionChanged(nc.IsConnected())
	r.wg.Add(1)
	go r.run()
	return r, nil
}

// newInstanceID names this process: a node restarted with the same
// identity is a new instance, so its predecessor's live members go.
func newInstanceID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Instance is this node process's ID in the cluster.
func (r *Registry) Instance() string { return r.inst }

// Local is the local copy, for statistics.
func (r *Registry) Local() *registry.Memory { return r.local }

// readyGrace is how long a node that was in sync stays ready while
// JetStream does not take writes: longer than a leader election (4–9 s) and
// the reload after it (11 s seen at 10,000 peers over 3 nodes), so
// that losing the bucket's leader does not make every node unready at once.
const readyGrace = 15 * time.Second

// Degraded reports whether the node serves from its local copy only: not in
// sync yet, or JetStream did not take the last write.
func (r *Registry) Degraded() bool { return !r.healthy.Load() }

// Ready reports whether a load balancer should send new peers here: the
// local copy has been in sync, and JetStream takes writes or has failed for
// less than readyGrace.
func (r *Registry) Ready() bool {
	if r.healthy.Load() {
		return true
	}
	return r.synced.Load() && time.Since(time.Unix(0, r.unhealthy.Load())) < readyGrace
}

// Connected reports whether the NATS connection is up.
func (r *Registry) Connected() bool { return r.nc.IsConnected() }

// Register implements registry.Registry. The caps are checked against the
// local copy, which makes them cluster-wide up to the writes in flight on
// other nodes.
func (r *Registry) Register(reg registry.Registration) (registry.Registration, error) {
	if r.closed.Load() {
		return registry.Registration{}, registry.ErrClosed
	}
	if err := r.local.Admit(reg); err != nil {
		return registry.Registration{}, err
	}
	mk := memberKey{ns: reg.Namespace, peer: reg.Peer}
	v := value{addrs: reg.Addrs, envelope: reg.Envelope, format: reg.Format}
	var key, stale string
	switch {
	case reg.Source == registry.SourceLive:
		key = instKey(r.inst, true, mk)
	case reg.NodeBound:
		key, stale, v.expiry = instKey(r.inst, false, mk), ttlKey(mk), reg.Expiry
	default:
		key, stale, v.expiry = ttlKey(mk), instKey(r.inst, false, mk), reg.Expiry
	}
	r.write(op{key: key, put: true, val: v})
	if stale != "" && r.has(mk, stale) {
		// The peer's rendezvous hold moved between bound and unbound: one
		// TTL hold per member and node, as in the in-memory registry.
		r.write(op{key: stale, reason: registry.ReasonUnregistered})
	}
	got, ok := r.local.Get(mk.ns, mk.peer)
	if !ok {
		return registry.Registration{}, registry.ErrClosed
	}
	return got, nil
}

// Unregister implements registry.Registry. A rendezvous hold is dropped
// cluster-wide along with this node's bound hold; other nodes' bound holds
// go with their own presence checks.
func (r *Registry) Unregister(ns string, p peer.ID, src registry.Source, reason registry.LeftReason) bool {
	if r.closed.Load() {
		return false
	}
	mk := memberKey{ns: ns, peer: p}
	keys := []string{instKey(r.inst, true, mk)}
	if src == registry.SourceRendezvous {
		keys = []string{ttlKey(mk), instKey(r.inst, false, mk)}
	}
	found := false
	for _, k := range keys {
		if r.has(mk, k) {
			found = true
			r.write(op{key: k, reason: reason})
		}
	}
	return found
}

func (r *Registry) has(mk memberKey, key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.find(mk, key) != nil
}

// Get implements registry.Registry from the local copy.
func (r *Registry) Get(ns string, p peer.ID) (registry.Registration, bool) { return r.local.Get(ns, p) }

// Discover implements registry.Registry from the local copy. Seq values
// come from bucket revisions, so a cookie from one node pages on any other.
func (r *Registry) Discover(ns string, after uint64, limit int) ([]registry.Registration, uint64) {
	return r.local.Discover(ns, after, limit)
}

// Members implements registry.Registry from the local copy.
func (r *Registry) Members(ns string) int { return r.local.Members(ns) }

// Random implements registry.Registry from the local copy.
func (r *Registry) Random(ns string, n int, skip func(peer.ID) bool) []registry.Registration {
	return r.local.Random(ns, n, skip)
}

// Subscribe implements registry.Registry: events of the local copy, which
// include every node's changes as they are applied (on the watch's
// goroutine, or on the caller's for a write applied locally).
func (r *Registry) Subscribe(ns string, fn func(registry.Event)) func() {
	return r.local.Subscribe(ns, fn)
}

// Depart tells the cluster this node is going: the others drop its live and
// bound members at once, and its keys are removed in one purge. Writes after
// it only change the local copy. Close departs too; call Depart first when
// the services that hold members will unregister them one by one as they
// stop, so their goodbyes cost no write each.
func (r *Registry) Depart() {
	r.mu.Lock()
	if r.departed || r.closed.Load() {
		r.mu.Unlock()
		return
	}
	r.departed = true
	r.mu.Unlock()
	r.sendHeartbeat(true)
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.writeTimeout)
	defer cancel()
	if s, err := r.js.Stream(ctx, streamName(r.opts.lim.Bucket)); err == nil {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(subjectOf(r.opts.lim.Bucket, instFilter(r.inst)))); err != nil {
			r.log.Warn("cluster: could not remove this node's keys; they go when its lease expires", "err", err)
		}
	}
	if kv := r.kv.Load(); kv != nil {
		_ = (*kv).Purge(ctx, leaseKey(r.inst), jetstream.PurgeTTL(markerTTL))
	}
	_ = r.nc.Flush()
}

// Close departs, stops the background work and empties the local copy. It is
// idempotent and does not close the NATS connection.
func (r *Registry) Close() error {
	if r.closed.Load() {
		return nil
	}
	r.Depart()
	if r.closed.Swap(true) {
		return nil
	}
	r.cancel()
	r.wg.Wait()
	r.metricSet.Unregister()
	return r.local.Close()
}

func streamName(bucket string) string { return "KV_" + bucket }

func subjectOf(bucket, key string) string { return "$KV." + bucket + "." + key }

var errResync = errors.New("cluster: resync requested")

func (r *Registry) requestResync() {
	select {
	case r.resync <- struct{}{}:
	default:
	}
}
