package rendezvous

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

// Envelope domain and payload type of rust-libp2p's rendezvous records. The
// payload is the same PeerRecord protobuf as go-libp2p's.
const (
	RoutingStateDomain      = "libp2p-routing-state"
	RoutingStatePayloadType = "/libp2p/routing-state-record"
)

var (
	errRecordUndecodable = errors.New("undecodable signed peer record")
	errRecordFormat      = errors.New("unknown record payload type")
	errRecordSigner      = errors.New("record peer does not match the signing key")
	errRecordNoAddrs     = errors.New("record has no addresses")
)

// routingStateRecord is a PeerRecord sealed under rust-libp2p's domain. It is
// not registered with record.RegisterType: it is only ever consumed through
// ConsumeTypedEnvelope after its payload type has been checked, which keeps
// the process-wide record registry untouched.
type routingStateRecord struct{ peer.PeerRecord }

func (*routingStateRecord) Domain() string { return RoutingStateDomain }
func (*routingStateRecord) Codec() []byte  { return []byte(RoutingStatePayloadType) }

// verifiedRecord is a signed peer record whose signature has been checked.
type verifiedRecord struct {
	Peer   peer.ID
	Addrs  []ma.Multiaddr
	Format registry.RecordFormat
}

// verifyRecord checks a signed envelope in either accepted format: signature
// valid for the format's domain, record peer equal to the signing key's peer,
// at least one decodable address. It does not check who sent it.
func verifyRecord(b []byte) (rec verifiedRecord, err error) {
	// Envelope and multiaddr decoding take hostile input; a panic in them
	// must cost one request, not the process.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errRecordUndecodable, r)
		}
	}()
	env, err := record.UnmarshalEnvelope(b)
	if err != nil {
		return rec, fmt.Errorf("%w: %v", errRecordUndecodable, err)
	}
	var pr *peer.PeerRecord
	switch {
	case bytes.Equal(env.PayloadType, peer.PeerRecordEnvelopePayloadType):
		pr = new(peer.PeerRecord)
		if _, err := record.ConsumeTypedEnvelope(b, pr); err != nil {
			return rec, fmt.Errorf("%w: %v", errRecordUndecodable, err)
		}
		rec.Format = registry.FormatPeerRecord
	case bytes.Equal(env.PayloadType, []byte(RoutingStatePayloadType)):
		rs := new(routingStateRecord)
		if _, err := record.ConsumeTypedEnvelope(b, rs); err != nil {
			return rec, fmt.Errorf("%w: %v", errRecordUndecodable, err)
		}
		pr = &rs.PeerRecord
		rec.Format = registry.FormatRoutingState
	default:
		return rec, errRecordFormat
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil || signer != pr.PeerID {
		return rec, errRecordSigner
	}
	if len(pr.Addrs) == 0 {
		return rec, errRecordNoAddrs
	}
	rec.Peer = pr.PeerID
	rec.Addrs = pr.Addrs
	return rec, nil
}

// SealRecord signs a peer record for key's peer with addrs in the given
// format (registry.FormatPeerRecord or registry.FormatRoutingState) and
// returns the envelope bytes to put in a REGISTER.
func SealRecord(key crypto.PrivKey, addrs []ma.Multiaddr, format registry.RecordFormat) ([]byte, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	pr := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id, Addrs: addrs})
	var rec record.Record
	switch format {
	case registry.FormatPeerRecord:
		rec = pr
	case registry.FormatRoutingState:
		rec = &routingStateRecord{PeerRecord: *pr}
	default:
		return nil, fmt.Errorf("rendezvous: cannot seal record format %d", format)
	}
	env, err := record.Seal(rec, key)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}
