package legacy

import (
	"time"
)

// streamPrefix starts the events of socket.io-pull-stream, which carry a
// relayed dial: "<prefix>accept.<stream>" (the receiver is ready),
// "<prefix>queue.<stream>" (one chunk) and "<prefix>error.<stream>" (the end:
// true, or an error). A dial <id> has two streams: "<id>.dialer" from the
// dialer to the listener and "<id>.listener" back.
const streamPrefix = "socket.io-pull-stream."

type endKind int

const (
	// endGone: a socket of the dial went away; the other is told the
	// streams towards it ended (error true), as the old server did.
	endGone endKind = iota
	endIdle
	endBuffer
	endRejected
)

// direction is one stream of a dial.
type direction struct {
	name     string
	from, to *socket
	// accepted: to has created its source; until then what from sends is
	// held, up to dial_buffer_bytes.
	accepted bool
	buf      []frame
	bufBytes int
	// ended: from has sent the stream's end.
	ended bool
}

// dial is one relayed dial. Covered by s.mu.
type dial struct {
	id               string
	dialer, listener *socket
	dirs             [2]*direction
	last             time.Time
	// dialerAck is the ack id the dialer waits on, -1 once answered.
	dialerAck int64
}

func (d *dial) dir(name string) *direction {
	for _, x := range d.dirs {
		if x.name == name {
			return x
		}
	}
	return nil
}

// dial serves ss-dial(from, to, dialId, callback): the node asks the
// listener, then carries both streams between the sockets.
func (sk *socket) dial(p *packet) {
	s := sk.s
	if p.id < 0 {
		sk.fail(p, RefusedMalformed, "Malformed packet: ss-dial without a callback")
		return
	}
	args, ok := strArgs(p, 3)
	if !ok {
		s.m.Dial(DialRefused)
		sk.fail(p, RefusedMalformed, "Malformed packet: ss-dial wants (multiaddr, multiaddr, string, callback)")
		return
	}
	from, to, id := args[0], args[1], args[2]
	_, _, fromKey, err1 := parseAddr(from, false)
	_, _, toKey, err2 := parseAddr(to, false)
	if err1 != nil || err2 != nil {
		s.m.Dial(DialRefused)
		sk.fail(p, RefusedInvalidMultiaddr, errTextInvalidAddr)
		return
	}
	if id == "" || len(id) > maxDialIDLen {
		s.m.Dial(DialRefused)
		sk.fail(p, RefusedMalformed, "Malformed packet: dial id empty or too long")
		return
	}
	up, down := id+".dialer", id+".listener"

	s.mu.Lock()
	var (
		r   Refusal
		msg string
	)
	target := s.addrs[toKey]
	switch {
	case sk.addrs[fromKey] == nil:
		r, msg = RefusedNotAuthorized, errTextNotAuthorized
	case target == nil:
		r, msg = RefusedPeerNotFound, errTextPeerNotFound
	case len(s.dials) >= s.cfg.lim.MaxDials:
		r, msg = RefusedDials, "legacy.max_dials reached"
	case sk.ndials >= s.cfg.lim.MaxDialsPerSocket || target.sock.ndials >= s.cfg.lim.MaxDialsPerSocket:
		r, msg = RefusedDialsPerSocket, "legacy.max_dials_per_socket reached"
	case sk.dials[up] != nil || sk.dials[down] != nil || target.sock.dials[up] != nil || target.sock.dials[down] != nil:
		r, msg = RefusedMalformed, "Malformed packet: dial id in use"
	}
	if r != "" {
		s.mu.Unlock()
		s.m.Dial(DialRefused)
		sk.fail(p, r, msg)
		return
	}
	l := target.sock
	d := &dial{id: id, dialer: sk, listener: l, last: time.Now(), dialerAck: p.id}
	d.dirs[0] = &direction{name: up, from: sk, to: l}
	d.dirs[1] = &direction{name: down, from: l, to: sk}
	sk.dials[up], sk.dials[down] = d, d
	l.dials[up], l.dials[down] = d, d
	sk.ndials++
	if l != sk {
		l.ndials++
	}
	s.dials[d] = struct{}{}
	ackID := l.nextAck
	l.nextAck++
	l.acks[ackID] = func(args []arg) { s.incomingAnswered(d, args) }
	n := len(s.dials)
	s.mu.Unlock()
	s.m.DialsOpen(n)
	s.log.Debug("dial", "socket", sk.id, "from", from, "to", to, "id", id)

	// The node's source of the dialer's stream is ready at once, as with
	// the old server: the dialer may send before the listener accepts.
	sk.sendPacket(event(-1, streamPrefix+"accept."+up))
	l.sendPacket(event(ackID, "ss-incomming", jsonArg(id), jsonArg(from)))
}

// incomingAnswered is the listener's answer to ss-incomming.
func (s *Service) incomingAnswered(d *dial, args []arg) {
	s.mu.Lock()
	if _, ok := s.dials[d]; !ok || d.dialerAck < 0 {
		s.mu.Unlock()
		return
	}
	ackID := d.dialerAck
	d.dialerAck = -1
	if len(args) > 0 && !args[0].isNull() {
		s.endDialLocked(d, nil, endRejected)
		n := len(s.dials)
		s.mu.Unlock()
		s.m.DialsOpen(n)
		s.m.Dial(DialRejected)
		d.dialer.sendPacket(ack(ackID, args[0]))
		return
	}
	d.last = time.Now()
	s.mu.Unlock()
	s.m.Dial(DialOK)
	d.listener.sendPacket(event(-1, streamPrefix+"accept."+d.dirs[1].name))
	d.dialer.sendPacket(ack(ackID))
}

// stream serves the socket.io-pull-stream events of one stream.
func (sk *socket) stream(kind, name string, args []arg) {
	s := sk.s
	s.mu.Lock()
	d := sk.dials[name]
	if d == nil {
		// A stream that ended: late chunks are dropped, as the old
		// server's ended pipes did.
		s.mu.Unlock()
		return
	}
	dir := d.dir(name)
	switch kind {
	case "accept":
		if dir.to != sk || dir.accepted {
			s.mu.Unlock()
			return
		}
		dir.accepted = true
		held := dir.buf
		dir.buf, dir.bufBytes = nil, 0
		if len(held) > 0 {
			dir.to.enqueue(held...)
		}
		s.finishIfDoneLocked(d)
		s.mu.Unlock()
	case "queue", "error":
		if dir.from != sk || dir.ended {
			s.mu.Unlock()
			return
		}
		text, bins := (&packet{typ: sioEvent, id: -1, args: append([]arg{jsonArg(streamPrefix + kind + "." + name)}, args...)}).frames()
		fs := make([]frame, 0, 1+len(bins))
		fs = append(fs, frame{b: text})
		size := 0
		for _, b := range bins {
			fs = append(fs, frame{bin: true, b: b})
			size += len(b) - 1
		}
		if kind == "error" {
			dir.ended = true
		} else {
			d.last = time.Now()
		}
		if dir.accepted {
			dir.to.enqueue(fs...)
			s.finishIfDoneLocked(d)
			s.mu.Unlock()
			if size > 0 {
				s.m.Relayed(size)
			}
			return
		}
		if dir.bufBytes+len(text)+size > s.cfg.lim.DialBufferBytes {
			s.endDialLocked(d, nil, endBuffer)
			n := len(s.dials)
			s.mu.Unlock()
			s.m.DialsOpen(n)
			s.refuse(RefusedDialBuffer, "dial", d.id)
			return
		}
		dir.buf = append(dir.buf, fs...)
		dir.bufBytes += len(text) + size
		s.mu.Unlock()
		if size > 0 {
			s.m.Relayed(size)
		}
	}
}

// finishIfDoneLocked forgets a dial whose two streams ended and were
// delivered.
func (s *Service) finishIfDoneLocked(d *dial) {
	for _, x := range d.dirs {
		if !x.ended || !x.accepted {
			return
		}
	}
	s.removeDialLocked(d)
}

func (s *Service) removeDialLocked(d *dial) {
	if _, ok := s.dials[d]; !ok {
		return
	}
	delete(s.dials, d)
	for _, x := range d.dirs {
		delete(d.dialer.dials, x.name)
		delete(d.listener.dials, x.name)
	}
	d.dialer.ndials--
	if d.listener != d.dialer {
		d.listener.ndials--
	}
}

// endDialLocked ends a dial: each socket still there is told that the
// stream towards it ended, with the reason; a dialer still waiting for its
// answer gets the reason in it.
func (s *Service) endDialLocked(d *dial, gone *socket, kind endKind) {
	if _, ok := s.dials[d]; !ok {
		return
	}
	s.removeDialLocked(d)
	var reason arg
	switch kind {
	case endGone, endRejected:
		reason = jsonArg(true)
	case endIdle:
		reason = jsonArg("legacy.dial_idle_timeout: the dial carried nothing for that long")
	case endBuffer:
		reason = jsonArg("legacy.dial_buffer_bytes: too much sent before the other side accepted")
	}
	for _, x := range d.dirs {
		if x.to == gone || x.ended && x.accepted && len(x.buf) == 0 {
			continue
		}
		if kind == endRejected && x.to == d.listener {
			continue
		}
		x.to.sendPacket(event(-1, streamPrefix+"error."+x.name, reason))
	}
	if d.dialerAck >= 0 && d.dialer != gone {
		msg := "Dial ended"
		if s, ok := reason.str(); ok {
			msg = s
		}
		d.dialer.sendPacket(ack(d.dialerAck, jsonArg(msg)))
		d.dialerAck = -1
	}
}
