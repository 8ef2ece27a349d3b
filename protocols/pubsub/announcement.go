package pubsub

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/netaddr"
	"github.com/ws-star/rendezvous/protocols/pubsub/pb"
)

// Why an announcement is junk.
var (
	errTooLarge     = errors.New("announcement too large")
	errNotPeer      = errors.New("not a Peer message")
	errBadKey       = errors.New("invalid public key")
	errTooManyAddrs = errors.New("too many addresses")
	errBadAddr      = errors.New("invalid multiaddr")
	errNoKey        = errors.New("no public key known")
)

// announcement is a checked pubsub-peer-discovery Peer message.
type announcement struct {
	id    peer.ID
	addrs []ma.Multiaddr
}

// decodeAnnouncement checks the size before decoding, then the key and every
// address; the caller compares id with the message's author.
func decodeAnnouncement(data []byte, maxSize, maxAddrs int) (announcement, error) {
	if len(data) > maxSize {
		return announcement{}, errTooLarge
	}
	var m pb.Peer
	if err := proto.Unmarshal(data, &m); err != nil {
		return announcement{}, errNotPeer
	}
	key, err := crypto.UnmarshalPublicKey(m.PublicKey)
	if err != nil {
		return announcement{}, fmt.Errorf("%w: %v", errBadKey, err)
	}
	id, err := peer.IDFromPublicKey(key)
	if err != nil {
		return announcement{}, fmt.Errorf("%w: %v", errBadKey, err)
	}
	if len(m.Addrs) > maxAddrs {
		return announcement{}, errTooManyAddrs
	}
	a := announcement{id: id, addrs: make([]ma.Multiaddr, 0, len(m.Addrs))}
	for _, b := range m.Addrs {
		addr, err := ma.NewMultiaddrBytes(b)
		if err != nil {
			return announcement{}, fmt.Errorf("%w: %v", errBadAddr, err)
		}
		a.addrs = append(a.addrs, netaddr.WithoutPeer(addr, id))
	}
	return a, nil
}

// withPeer ends a with /p2p/<p>, as apps announce their own addresses.
func withPeer(a ma.Multiaddr, p peer.ID) ma.Multiaddr {
	if _, last := ma.SplitLast(a); last != nil && last.Code() == ma.P_P2P {
		return a
	}
	return a.Encapsulate(ma.StringCast("/p2p/" + p.String()))
}

// encodeAnnouncement is the Peer message the node publishes for a member:
// its key and its addresses, each ending in /p2p/<member>.
func encodeAnnouncement(key crypto.PubKey, addrs []ma.Multiaddr) ([]byte, error) {
	kb, err := crypto.MarshalPublicKey(key)
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPublicKey(key)
	if err != nil {
		return nil, err
	}
	m := pb.Peer{PublicKey: kb, Addrs: make([][]byte, len(addrs))}
	for i, a := range addrs {
		m.Addrs[i] = withPeer(a, id).Bytes()
	}
	return proto.Marshal(&m)
}
