package rendezvous

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
	"github.com/ws-star/rendezvous/registry"
)

func validNamespace(ns string) bool { return registry.ValidNamespace(ns) }

// grantTTL applies the TTL bounds to a requested TTL in seconds; 0 (or a
// missing field) asks for the default.
func (s *Service) grantTTL(secs uint64) (time.Duration, *statusErr) {
	if secs == 0 {
		return s.cfg.lim.DefaultTTL.D(), nil
	}
	if secs > uint64(s.cfg.lim.MaxTTL.D()/time.Second) {
		return 0, fail(StatusInvalidTTL, "ttl above maximum of %d s", uint64(s.cfg.lim.MaxTTL.D()/time.Second))
	}
	d := time.Duration(secs) * time.Second
	if d < s.cfg.lim.MinTTL.D() {
		return 0, fail(StatusInvalidTTL, "ttl below minimum of %d s", uint64(s.cfg.lim.MinTTL.D()/time.Second))
	}
	return d, nil
}

// register handles a REGISTER. Cheap checks come before the signature check.
func (s *Service) register(p peer.ID, c network.Conn, r *pb.Message_Register) (*pb.Message, *statusErr) {
	ns := r.GetNs()
	if !validNamespace(ns) {
		return nil, fail(StatusInvalidNamespace, "namespace must be 1 to %d bytes of UTF-8", MaxNamespaceLen)
	}
	ttl, serr := s.grantTTL(r.GetTtl())
	if serr != nil {
		return nil, serr
	}
	env := r.GetSignedPeerRecord()
	if len(env) == 0 {
		return nil, fail(StatusInvalidSignedPeerRecord, "missing signed peer record")
	}
	rec, err := verifyRecord(env)
	if err != nil {
		return nil, fail(StatusInvalidSignedPeerRecord, "%v", err)
	}
	if rec.Peer != p {
		return nil, fail(StatusNotAuthorized, "signed peer record is not the sender's")
	}
	src, capped := s.sources.sourceOf(c)
	var added bool
	if capped {
		var ok bool
		if ok, added = s.sources.take(src, ns, p); !ok {
			s.cfg.limits.Refused(limits.RegistrationsPerSource)
			return nil, fail(StatusUnavailable, "%s", limits.Text("too many registrations from this address", limits.RegistrationsPerSource))
		}
	}
	start := time.Now()
	bound := relayOnly(rec.Addrs, s.h.ID())
	stored, err := s.reg.Register(registry.Registration{
		Namespace: ns,
		Peer:      p,
		Addrs:     rec.Addrs,
		Envelope:  env,
		Format:    rec.Format,
		Source:    registry.SourceRendezvous,
		NodeBound: bound,
		Expiry:    start.Add(ttl),
	})
	if err != nil {
		if added {
			s.sources.release(ns, p)
		}
		if limit := registry.LimitOf(err); limit != "" {
			s.cfg.limits.Refused(limit)
		}
		serr := registryStatus(err)
		if serr.status == StatusInternalError {
			s.log.Warn("registry refused a registration", "peer", p, "ns", ns, "err", err)
		}
		return nil, serr
	}
	if !stored.Expiry.IsZero() {
		// The registry may keep a registration for less than asked.
		ttl = min(ttl, max(time.Second, stored.Expiry.Sub(start)))
	}
	s.setFormat(p, rec.Format)
	s.bindPresence(p, ns, bound)
	s.log.Debug("registered", "peer", p, "ns", ns, "ttl", ttl, "seq", stored.Seq)
	secs := uint64(ttl / time.Second)
	return &pb.Message{
		Type: pb.Message_REGISTER_RESPONSE.Enum(),
		RegisterResponse: &pb.Message_RegisterResponse{
			Status:     StatusOK.Enum(),
			StatusText: proto.String("OK"),
			Ttl:        &secs,
		},
	}, nil
}

// unregister handles an UNREGISTER; it has no reply, so invalid ones are
// only logged.
func (s *Service) unregister(p peer.ID, u *pb.Message_Unregister) {
	ns := u.GetNs()
	if !validNamespace(ns) {
		s.log.Debug("unregister with invalid namespace", "peer", p)
		return
	}
	s.reg.Unregister(ns, p, registry.SourceRendezvous, registry.ReasonUnregistered)
	s.bindPresence(p, ns, false)
	s.log.Debug("unregistered", "peer", p, "ns", ns)
}

// discover handles a DISCOVER. Results are in the requester's record format
// only; registrations in the other format (or holding no record) are skipped
// but the cursor moves past them. A page also stops short of the response
// size limit; the cookie then resumes after the last registration sent.
func (s *Service) discover(p peer.ID, d *pb.Message_Discover) (*pb.Message, *statusErr) {
	ns := d.GetNs()
	if ns != "" && !validNamespace(ns) {
		return nil, fail(StatusInvalidNamespace, "namespace must be at most %d bytes of UTF-8", MaxNamespaceLen)
	}
	limit := s.cfg.lim.DiscoverLimit
	if l := d.GetLimit(); l > 0 {
		limit = int(min(l, uint64(s.cfg.lim.MaxDiscoverLimit)))
	}
	var cursor uint64
	if c := d.GetCookie(); len(c) > 0 {
		cur, cns, err := ParseCookie(c)
		if err != nil {
			return nil, fail(StatusInvalidCookie, "malformed cookie")
		}
		if cns != ns {
			return nil, fail(StatusInvalidCookie, "cookie is for another namespace")
		}
		cursor = cur
	}
	format := s.formatFor(p)
	now := time.Now()
	out := make([]*pb.Message_Register, 0, min(limit, 128))
	size := 64 + maxCookieLen // type, status, text, cookie
	full := false
	for round := 0; round < maxDiscoverRounds && len(out) < limit && !full; round++ {
		want := limit - len(out)
		regs, next := s.reg.Discover(ns, cursor, want)
		consumed := 0
		for i := range regs {
			reg := &regs[i]
			if reg.Format != format || len(reg.Envelope) == 0 {
				cursor, consumed = reg.Seq, consumed+1
				continue
			}
			ttl, ok := s.remaining(reg, now)
			if !ok {
				cursor, consumed = reg.Seq, consumed+1
				continue
			}
			e := &pb.Message_Register{Ns: &reg.Namespace, SignedPeerRecord: reg.Envelope, Ttl: &ttl}
			n := proto.Size(e) + 4 // field tag and length
			if size+n > maxResponseSize {
				full = true
				break
			}
			size += n
			out = append(out, e)
			cursor, consumed = reg.Seq, consumed+1
		}
		if !full && consumed == len(regs) && next > cursor {
			cursor = next
		}
		if len(regs) < want {
			break
		}
	}
	s.mt.RegistrationsDiscovered(len(out))
	return &pb.Message{
		Type: pb.Message_DISCOVER_RESPONSE.Enum(),
		DiscoverResponse: &pb.Message_DiscoverResponse{
			Registrations: out,
			Cookie:        EncodeCookie(cursor, ns),
			Status:        StatusOK.Enum(),
			StatusText:    proto.String("OK"),
		},
	}, nil
}

// remaining is the TTL in whole seconds (at least 1) reported for a
// registration. A live hold (a /ws-star/1.0.0 peer) lasts while its stream
// does, past any expiry, so without a later TTL hold it is reported with the
// minimum TTL for clients to come back soon.
func (s *Service) remaining(reg *registry.Registration, now time.Time) (uint64, bool) {
	left := reg.Expiry.Sub(now)
	if reg.Expiry.IsZero() || (reg.Source == registry.SourceLive && left < s.cfg.lim.MinTTL.D()) {
		return uint64(s.cfg.lim.MinTTL.D() / time.Second), true
	}
	if left <= 0 {
		return 0, false
	}
	return max(1, uint64(left/time.Second)), true
}
