package legacy

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

// The old server's error texts, which the old clients show.
const (
	errTextInvalidAddr   = "Invalid multiaddr"
	errTextNoID          = "Crypto Challenge required but no Id provided"
	errTextCrypto        = "Crypto error"
	errTextIDNotMatching = "Id is not matching"
	errTextBadSignature  = "Signature Invalid"
	errTextNotAuthorized = "Not authorized for this address"
	errTextPeerNotFound  = "Peer not found"
)

// maxKeyHex caps a public key or signature in hex: a 8192-bit RSA key is
// about 1 KiB marshalled.
const maxKeyHex = 4096

// maxDialIDLen caps a dial id (the old clients send a UUID).
const maxDialIDLen = 128

// frame is one WebSocket message to send.
type frame struct {
	bin bool
	b   []byte
}

// challenge is a join waiting for its signed nonce.
type challenge struct {
	nonce string
	key   crypto.PubKey
}

// socket is one old client's connection.
type socket struct {
	s    *Service
	id   string
	ip   netip.Addr
	conn atomic.Pointer[websocket.Conn]

	// Covered by s.mu.
	addrs      map[string]*member
	challenges map[string]*challenge
	dials      map[string]*dial // by stream name
	ndials     int
	joined     bool // has joined an address at least once
	nextAck    int64
	acks       map[int64]func([]arg)

	qmu     sync.Mutex
	q       []frame
	qbytes  int
	qclosed bool // nothing more is queued; the writer closes after the queue
	signal  chan struct{}

	closing   chan struct{}
	closeOnce sync.Once
}

func newSocket(s *Service, ip netip.Addr) *socket {
	return &socket{
		s: s, id: newSocketID(), ip: ip,
		addrs:      make(map[string]*member),
		challenges: make(map[string]*challenge),
		dials:      make(map[string]*dial),
		acks:       make(map[int64]func([]arg)),
		signal:     make(chan struct{}, 1),
		closing:    make(chan struct{}),
	}
}

// shutdown closes the socket now.
func (sk *socket) shutdown() {
	sk.closeOnce.Do(func() {
		close(sk.closing)
		if c := sk.conn.Load(); c != nil {
			_ = c.Close()
		}
	})
}

// closeAfterQueue closes the socket once what is queued is written.
func (sk *socket) closeAfterQueue() {
	sk.qmu.Lock()
	sk.qclosed = true
	sk.qmu.Unlock()
	sk.kick()
}

func (sk *socket) kick() {
	select {
	case sk.signal <- struct{}{}:
	default:
	}
}

// enqueue queues frames for the writer; a socket whose queue would pass
// socket_queue_bytes is closed instead. It never blocks and takes no lock
// but the queue's, so it may be called under s.mu.
func (sk *socket) enqueue(fs ...frame) bool {
	size := 0
	for _, f := range fs {
		size += len(f.b)
	}
	sk.qmu.Lock()
	if sk.qclosed {
		sk.qmu.Unlock()
		return false
	}
	if sk.qbytes+size > sk.s.cfg.lim.SocketQueueBytes {
		sk.qclosed = true
		sk.qmu.Unlock()
		sk.s.refuse(RefusedSlowReceiver, "socket", sk.id)
		sk.shutdown()
		return false
	}
	sk.q = append(sk.q, fs...)
	sk.qbytes += size
	sk.qmu.Unlock()
	sk.kick()
	return true
}

func (sk *socket) sendPacket(p packet) bool {
	text, bins := p.frames()
	fs := make([]frame, 0, 1+len(bins))
	fs = append(fs, frame{b: text})
	for _, b := range bins {
		fs = append(fs, frame{bin: true, b: b})
	}
	return sk.enqueue(fs...)
}

// sendError sends a socket.io error packet: the client's socket emits
// "error" with msg.
func (sk *socket) sendError(msg string) {
	b, _ := json.Marshal(msg)
	sk.enqueue(frame{b: append([]byte{eioMessage, '0' + sioError}, b...)})
}

// fail counts a refusal and tells the client: in the ack of p when it asked
// for one, else as an error packet.
func (sk *socket) fail(p *packet, r Refusal, msg string) {
	sk.s.refuse(r, "socket", sk.id, "msg", msg)
	if p != nil && p.id >= 0 && (p.typ == sioEvent || p.typ == sioBinaryEvent) {
		sk.sendPacket(ack(p.id, jsonArg(msg)))
		return
	}
	sk.sendError(msg)
}

func (sk *socket) writeLoop() {
	defer sk.s.wg.Done()
	c := sk.conn.Load()
	wt := sk.s.cfg.lim.WriteTimeout.D()
	for {
		select {
		case <-sk.signal:
		case <-sk.closing:
			return
		}
		sk.qmu.Lock()
		fs, last := sk.q, sk.qclosed
		sk.q, sk.qbytes = nil, 0
		sk.qmu.Unlock()
		if len(fs) > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(wt))
			for _, f := range fs {
				mt := websocket.TextMessage
				if f.bin {
					mt = websocket.BinaryMessage
				}
				if err := c.WriteMessage(mt, f.b); err != nil {
					sk.shutdown()
					return
				}
			}
		}
		if last {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			sk.shutdown()
			return
		}
	}
}

func (sk *socket) readLoop() {
	s := sk.s
	defer s.wg.Done()
	defer s.forget(sk)
	defer sk.shutdown()
	c := sk.conn.Load()
	lim := s.cfg.lim
	c.SetReadLimit(int64(lim.MaxFrameBytes))
	open := fmt.Sprintf(`%c{"sid":%q,"upgrades":[],"pingInterval":%d,"pingTimeout":%d}`,
		eioOpen, sk.id, lim.PingInterval.D().Milliseconds(), lim.PingTimeout.D().Milliseconds())
	sk.enqueue(frame{b: []byte(open)}, frame{b: []byte{eioMessage, '0' + sioConnect}})
	s.log.Debug("socket open", "socket", sk.id, "ip", sk.ip)

	joinTimer := time.AfterFunc(lim.JoinTimeout.D(), func() {
		s.mu.Lock()
		joined := sk.joined
		s.mu.Unlock()
		if !joined {
			sk.fail(nil, RefusedJoinTimeout, "legacy.join_timeout: no address joined")
			sk.closeAfterQueue()
		}
	})
	defer joinTimer.Stop()

	silent := lim.PingInterval.D() + lim.PingTimeout.D()
	var pending *packet
	for {
		_ = c.SetReadDeadline(time.Now().Add(silent))
		mt, data, err := c.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.refuse(RefusedFrameTooLarge, "socket", sk.id)
			}
			s.log.Debug("socket closed", "socket", sk.id, "err", err)
			return
		}
		if mt == websocket.BinaryMessage {
			if pending == nil || len(data) == 0 || data[0] != 4 {
				sk.fail(nil, RefusedMalformed, "Malformed packet: unexpected binary message")
				continue
			}
			if pending.attach(data[1:]) {
				p := *pending
				pending = nil
				sk.handle(&p)
			}
			continue
		}
		if pending != nil {
			sk.fail(pending, RefusedMalformed, "Malformed packet: attachment missing")
			pending = nil
		}
		if len(data) == 0 {
			sk.fail(nil, RefusedMalformed, "Malformed packet: empty message")
			continue
		}
		switch data[0] {
		case eioPing:
			sk.enqueue(frame{b: append([]byte{eioPong}, data[1:min(len(data), 64)]...)})
		case eioClose:
			return
		case eioMessage:
			p, err := decodePacket(data[1:])
			if err != nil {
				sk.fail(&p, RefusedMalformed, "Malformed packet: "+strings.TrimPrefix(err.Error(), errMalformed.Error()+": "))
				continue
			}
			if p.attachments > 0 {
				pending = &p
				continue
			}
			sk.handle(&p)
		case eioPong, eioNoop, eioUpgrade, eioOpen:
		default:
			sk.fail(nil, RefusedMalformed, "Malformed packet: unknown engine.io packet type")
		}
	}
}

// handle acts on one complete packet.
func (sk *socket) handle(p *packet) {
	s := sk.s
	if p.nsp != "/" {
		sk.s.refuse(RefusedMalformed, "socket", sk.id, "nsp", p.nsp)
		b, _ := json.Marshal("Invalid namespace")
		sk.enqueue(frame{b: append(append([]byte{eioMessage, '0' + sioError}, p.nsp+","...), b...)})
		return
	}
	switch p.typ {
	case sioConnect, sioError:
		return
	case sioDisconnect:
		sk.shutdown()
		return
	case sioAck, sioBinaryAck:
		s.mu.Lock()
		fn := sk.acks[p.id]
		delete(sk.acks, p.id)
		s.mu.Unlock()
		if fn != nil {
			fn(p.args)
		}
		return
	}
	name, ok := p.name()
	if !ok {
		sk.fail(p, RefusedMalformed, "Malformed packet: the event name is not a string")
		return
	}
	switch name {
	case "ss-join":
		sk.join(p)
	case "ss-leave":
		sk.leave(p)
	case "ss-dial":
		sk.dial(p)
	default:
		if rest, ok := strings.CutPrefix(name, streamPrefix); ok {
			if kind, stream, ok := strings.Cut(rest, "."); ok && (kind == "accept" || kind == "queue" || kind == "error") {
				sk.stream(kind, stream, p.args[1:])
				return
			}
		}
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		sk.fail(p, RefusedUnknownEvent, "Unknown event "+name)
	}
}

// strArgs returns args[1:1+n] as strings.
func strArgs(p *packet, n int) ([]string, bool) {
	if len(p.args) < 1+n {
		return nil, false
	}
	out := make([]string, n)
	for i := range n {
		s, ok := p.args[1+i].str()
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// join serves ss-join(multiaddr, key or signature, callback).
func (sk *socket) join(p *packet) {
	s := sk.s
	if p.id < 0 {
		sk.fail(p, RefusedMalformed, "Malformed packet: ss-join without a callback")
		return
	}
	args, ok := strArgs(p, 2)
	if !ok {
		if _, ok := strArgs(p, 1); !ok {
			sk.fail(p, RefusedInvalidMultiaddr, errTextInvalidAddr)
			return
		}
		sk.fail(p, RefusedMalformed, "Malformed packet: ss-join wants (multiaddr, string, callback)")
		return
	}
	wire, pub := args[0], args[1]
	a, id, key, err := parseAddr(wire, s.cfg.lim.StrictMultiaddr)
	if err != nil {
		sk.fail(p, RefusedInvalidMultiaddr, errTextInvalidAddr)
		return
	}
	if s.cfg.deny.Denied(id) {
		sk.fail(p, RefusedDenied, "Peer denied")
		return
	}
	if !s.cfg.lim.CryptoChallenge {
		sk.finishJoin(p, a, id, key, wire)
		return
	}
	if pub == "" {
		sk.fail(p, RefusedNoKey, errTextNoID)
		return
	}
	s.mu.Lock()
	ch := sk.challenges[key]
	delete(sk.challenges, key)
	s.mu.Unlock()
	if ch == nil {
		pk, err := parseKey(pub)
		if err != nil {
			sk.fail(p, RefusedCryptoError, errTextCrypto)
			return
		}
		if !idMatches(id, pk) {
			sk.fail(p, RefusedIDMismatch, errTextIDNotMatching)
			return
		}
		nonce := newNonce()
		s.mu.Lock()
		if len(sk.challenges)+len(sk.addrs) >= s.cfg.lim.MaxAddrsPerSocket && sk.addrs[key] == nil {
			s.mu.Unlock()
			sk.fail(p, RefusedAddrsPerSocket, "legacy.max_addrs_per_socket reached")
			return
		}
		sk.challenges[key] = &challenge{nonce: nonce, key: pk}
		s.mu.Unlock()
		sk.sendPacket(ack(p.id, nullArg, jsonArg(nonce)))
		return
	}
	if len(pub) > maxKeyHex {
		sk.fail(p, RefusedCryptoError, errTextCrypto)
		return
	}
	sig, err := hex.DecodeString(pub)
	if err != nil {
		sk.fail(p, RefusedCryptoError, errTextCrypto)
		return
	}
	valid, err := ch.key.Verify([]byte(ch.nonce), sig)
	switch {
	case err != nil:
		sk.fail(p, RefusedCryptoError, errTextCrypto)
	case !valid:
		sk.fail(p, RefusedBadSignature, errTextBadSignature)
	default:
		sk.finishJoin(p, a, id, key, wire)
	}
}

func parseKey(pub string) (crypto.PubKey, error) {
	if len(pub) > maxKeyHex {
		return nil, errors.New("key too long")
	}
	b, err := hex.DecodeString(pub)
	if err != nil {
		return nil, err
	}
	return crypto.UnmarshalPublicKey(b)
}

// finishJoin makes the address a member, answers the joiner with every
// other address and tells every other joined socket of it once.
func (sk *socket) finishJoin(p *packet, a ma.Multiaddr, id peer.ID, key, wire string) {
	s := sk.s
	s.mu.Lock()
	mb := sk.addrs[key]
	if mb == nil {
		if len(sk.addrs) >= s.cfg.lim.MaxAddrsPerSocket {
			s.mu.Unlock()
			sk.fail(p, RefusedAddrsPerSocket, "legacy.max_addrs_per_socket reached")
			return
		}
		if prev := s.addrs[key]; prev != nil {
			// A new socket of the same address takes it over, as with
			// the old server.
			delete(prev.sock.addrs, key)
			s.dropPeerAddrLocked(prev)
		}
		mb = &member{sock: sk, peer: id, addr: a, key: key, wire: wire}
		s.addrs[key] = mb
		sk.addrs[key] = mb
		if s.peers[id] == nil {
			s.peers[id] = make(map[string]*member)
		}
		s.peers[id][key] = mb
		sk.joined = true
	}
	s.mu.Unlock()

	if err := s.syncPeer(id, registry.ReasonUnregistered); err != nil {
		s.mu.Lock()
		if s.addrs[key] == mb {
			delete(s.addrs, key)
			delete(sk.addrs, key)
			s.dropPeerAddrLocked(mb)
		}
		s.mu.Unlock()
		msg := "Registry refused the join: " + err.Error()
		if l := registry.LimitOf(err); l != "" {
			msg += " (" + l + ")"
		}
		sk.fail(p, RefusedRegistry, msg)
		return
	}

	s.mu.Lock()
	if s.addrs[key] != mb {
		s.mu.Unlock()
		sk.fail(p, RefusedNotAuthorized, "Address left while joining")
		return
	}
	others := make([]string, 0, len(s.addrs))
	for _, o := range s.addrs {
		if o != mb {
			others = append(others, o.wire)
		}
	}
	targets := make([]*socket, 0, len(s.sockets))
	for o := range s.sockets {
		if o != sk && len(o.addrs) > 0 {
			targets = append(targets, o)
		}
	}
	members := len(s.addrs)
	s.mu.Unlock()

	sk.sendPacket(ack(p.id, nullArg, nullArg, jsonArg(others)))
	s.m.Joined()
	s.m.Members(members)
	s.log.Debug("joined", "socket", sk.id, "addr", wire)
	if len(targets) == 0 {
		return
	}
	announce := event(-1, "ws-peer", jsonArg(wire))
	text, _ := announce.frames()
	for _, o := range targets {
		o.enqueue(frame{b: text})
	}
	s.m.Announced(len(targets))
}

// leave serves ss-leave(multiaddr): the address stops being a member.
// Nobody is told: the old clients never learned of leaves.
func (sk *socket) leave(p *packet) {
	s := sk.s
	args, ok := strArgs(p, 1)
	if !ok {
		sk.fail(p, RefusedInvalidMultiaddr, errTextInvalidAddr)
		return
	}
	_, id, key, err := parseAddr(args[0], false)
	if err != nil {
		sk.fail(p, RefusedInvalidMultiaddr, errTextInvalidAddr)
		return
	}
	s.mu.Lock()
	mb := sk.addrs[key]
	if mb != nil {
		delete(sk.addrs, key)
		if s.addrs[key] == mb {
			delete(s.addrs, key)
			s.dropPeerAddrLocked(mb)
		}
	}
	members := len(s.addrs)
	s.mu.Unlock()
	if mb != nil {
		s.m.Members(members)
		_ = s.syncPeer(id, registry.ReasonUnregistered)
		s.log.Debug("left", "socket", sk.id, "addr", args[0])
	}
	if p.id >= 0 {
		sk.sendPacket(ack(p.id))
	}
}
