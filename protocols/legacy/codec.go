package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The wire format of the old clients: socket.io protocol 2 packets carried
// as engine.io protocol 3 messages over a WebSocket. An engine.io message is
// one WebSocket message: a text one starts with the packet type as an ASCII
// digit, a binary one with the type as a byte; socket.io packets travel in
// engine.io "message" packets, their binary arguments in the binary messages
// that follow the packet, one per attachment.

// Engine.io packet types.
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioUpgrade = '5'
	eioNoop    = '6'
)

// Socket.io packet types.
const (
	sioConnect     = 0
	sioDisconnect  = 1
	sioEvent       = 2
	sioAck         = 3
	sioError       = 4
	sioBinaryEvent = 5
	sioBinaryAck   = 6
)

// maxAttachments bounds the binary attachments of one packet: the old
// clients send at most one (a relayed chunk).
const maxAttachments = 4

// maxPacketID bounds ack ids: socket.io counts them up from 0.
const maxPacketID = 1<<53 - 1

var errMalformed = errors.New("malformed packet")

// packet is one socket.io packet. For events, args[0] is the event name.
type packet struct {
	typ         int
	attachments int
	nsp         string
	id          int64 // -1: no ack wanted
	args        []arg
}

// arg is one argument: JSON, or binary data (an attachment).
type arg struct {
	raw json.RawMessage
	bin []byte
	// isBin: bin is the argument (a placeholder on the wire).
	isBin bool
}

// jsonArg marshals v; it never fails for the strings, nulls and arrays the
// service sends.
func jsonArg(v any) arg {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return arg{raw: b}
}

// str returns the argument as a string.
func (a arg) str() (string, bool) {
	if a.isBin || len(a.raw) == 0 || a.raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(a.raw, &s) != nil {
		return "", false
	}
	return s, true
}

// isNull: JSON null, or absent.
func (a arg) isNull() bool {
	return !a.isBin && (len(a.raw) == 0 || string(a.raw) == "null")
}

type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         *int `json:"num"`
}

// decodePacket parses the text of a socket.io packet (the engine.io message
// without its type). Binary arguments are left as placeholders to be filled
// with attach; only top-level placeholders are supported, which is what
// socket.io-pull-stream sends.
func decodePacket(s []byte) (packet, error) {
	p := packet{id: -1}
	if len(s) == 0 || s[0] < '0' || s[0] > '6' {
		return p, fmt.Errorf("%w: unknown packet type", errMalformed)
	}
	p.typ = int(s[0] - '0')
	i := 1
	if p.typ == sioBinaryEvent || p.typ == sioBinaryAck {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' && j-i < 3 {
			j++
		}
		if j == i || j >= len(s) || s[j] != '-' {
			return p, fmt.Errorf("%w: attachment count", errMalformed)
		}
		p.attachments, _ = strconv.Atoi(string(s[i:j]))
		if p.attachments > maxAttachments {
			return p, fmt.Errorf("%w: more than %d attachments", errMalformed, maxAttachments)
		}
		i = j + 1
	}
	p.nsp = "/"
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.nsp = string(s[i:])
			i = len(s)
		} else {
			p.nsp = string(s[i : i+j])
			i += j + 1
		}
		if len(p.nsp) > 128 {
			return p, fmt.Errorf("%w: namespace too long", errMalformed)
		}
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i > 16 {
			return p, fmt.Errorf("%w: ack id", errMalformed)
		}
		id, err := strconv.ParseInt(string(s[i:j]), 10, 64)
		if err != nil || id > maxPacketID {
			return p, fmt.Errorf("%w: ack id", errMalformed)
		}
		p.id = id
		i = j
	}
	body := s[i:]
	switch p.typ {
	case sioEvent, sioBinaryEvent, sioAck, sioBinaryAck:
		var raw []json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return p, fmt.Errorf("%w: payload is not a JSON array", errMalformed)
		}
		p.args = make([]arg, len(raw))
		seen := 0
		for k, r := range raw {
			p.args[k] = arg{raw: r}
			if p.attachments == 0 || len(r) == 0 || r[0] != '{' {
				continue
			}
			var ph placeholder
			if json.Unmarshal(r, &ph) == nil && ph.Placeholder {
				if ph.Num == nil || *ph.Num != seen {
					return p, fmt.Errorf("%w: attachment placeholder out of order", errMalformed)
				}
				p.args[k] = arg{isBin: true}
				seen++
			}
		}
		if seen != p.attachments {
			return p, fmt.Errorf("%w: %d attachments announced, %d placeholders at the top level", errMalformed, p.attachments, seen)
		}
		if (p.typ == sioEvent || p.typ == sioBinaryEvent) && len(p.args) == 0 {
			return p, fmt.Errorf("%w: event without a name", errMalformed)
		}
	case sioError:
		if len(body) > 0 {
			p.args = []arg{{raw: body}}
		}
	case sioConnect, sioDisconnect:
		// Payload ignored.
	}
	return p, nil
}

// attach fills the next placeholder with data; it reports whether the
// packet is complete.
func (p *packet) attach(data []byte) bool {
	if data == nil {
		data = []byte{}
	}
	for k := range p.args {
		if p.args[k].isBin && p.args[k].bin == nil {
			p.args[k].bin = data
			break
		}
	}
	return p.missing() == 0
}

// missing counts attachments not yet received.
func (p *packet) missing() int {
	m := 0
	for _, a := range p.args {
		if a.isBin && a.bin == nil {
			m++
		}
	}
	return m
}

// name is an event's name.
func (p *packet) name() (string, bool) {
	if len(p.args) == 0 {
		return "", false
	}
	return p.args[0].str()
}

// frames encodes p as the WebSocket messages to send: the engine.io message
// with the packet text, then one binary message per binary argument.
func (p *packet) frames() (text []byte, bins [][]byte) {
	var b bytes.Buffer
	b.WriteByte(eioMessage)
	n := 0
	for _, a := range p.args {
		if a.isBin {
			n++
		}
	}
	typ := p.typ
	switch {
	case n > 0 && typ == sioEvent:
		typ = sioBinaryEvent
	case n > 0 && typ == sioAck:
		typ = sioBinaryAck
	case n == 0 && typ == sioBinaryEvent:
		typ = sioEvent
	case n == 0 && typ == sioBinaryAck:
		typ = sioAck
	}
	b.WriteByte(byte('0' + typ))
	if n > 0 {
		b.WriteString(strconv.Itoa(n))
		b.WriteByte('-')
	}
	if p.nsp != "" && p.nsp != "/" {
		b.WriteString(p.nsp)
		b.WriteByte(',')
	}
	if p.id >= 0 {
		b.WriteString(strconv.FormatInt(p.id, 10))
	}
	if p.args != nil || typ == sioEvent || typ == sioAck || typ == sioBinaryEvent || typ == sioBinaryAck {
		b.WriteByte('[')
		k := 0
		for i, a := range p.args {
			if i > 0 {
				b.WriteByte(',')
			}
			if a.isBin {
				b.WriteString(`{"_placeholder":true,"num":` + strconv.Itoa(k) + `}`)
				bin := make([]byte, 1+len(a.bin))
				bin[0] = 4 // engine.io message, binary
				copy(bin[1:], a.bin)
				bins = append(bins, bin)
				k++
				continue
			}
			if len(a.raw) == 0 {
				b.WriteString("null")
			} else {
				b.Write(a.raw)
			}
		}
		b.WriteByte(']')
	}
	return b.Bytes(), bins
}

// event builds an event packet; id >= 0 asks for an ack.
func event(id int64, name string, args ...arg) packet {
	return packet{typ: sioEvent, id: id, args: append([]arg{jsonArg(name)}, args...)}
}

// ack builds the ack of packet id.
func ack(id int64, args ...arg) packet {
	if args == nil {
		args = []arg{}
	}
	return packet{typ: sioAck, id: id, args: args}
}

// nullArg is JSON null.
var nullArg = arg{raw: json.RawMessage("null")}
