package legacy

import (
	"crypto/sha256"
	"errors"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// P_P2P_WEBSOCKET_STAR is the multicodec of /p2p-websocket-star, the
// component the old clients' addresses carry; go-multiaddr no longer
// knows it, so the package registers it.
const P_P2P_WEBSOCKET_STAR = 0x01df

func init() {
	if ma.ProtocolWithCode(P_P2P_WEBSOCKET_STAR).Code != 0 {
		return
	}
	_ = ma.AddProtocol(ma.Protocol{
		Name:  "p2p-websocket-star",
		Code:  P_P2P_WEBSOCKET_STAR,
		VCode: ma.CodeToVarint(P_P2P_WEBSOCKET_STAR),
	})
}

// maxAddrLen caps an address string: longer ones are refused before parsing.
const maxAddrLen = 512

var errInvalidAddr = errors.New("Invalid multiaddr")

// parseAddr parses an address an old client sent. It must end in
// /ipfs/<id> (or /p2p/<id>); strict, it must be a ws-star address:
// <ip4|ip6|dns4|dns6|dns|dnsaddr>/tcp/<port>/<ws|wss|tls/ws>/p2p-websocket-star/ipfs/<id>.
// The key is the address in its canonical form, so that the /ipfs/ and
// /p2p/ spellings of one address are one address.
func parseAddr(s string, strict bool) (a ma.Multiaddr, id peer.ID, key string, err error) {
	if s == "" || len(s) > maxAddrLen {
		return nil, "", "", errInvalidAddr
	}
	a, err = ma.NewMultiaddr(s)
	if err != nil || len(a) == 0 {
		return nil, "", "", errInvalidAddr
	}
	last := a[len(a)-1]
	if last.Protocol().Code != ma.P_P2P {
		return nil, "", "", errInvalidAddr
	}
	id, err = peer.Decode(last.Value())
	if err != nil {
		return nil, "", "", errInvalidAddr
	}
	if strict && !isWSStarAddr(a) {
		return nil, "", "", errInvalidAddr
	}
	return a, id, a.String(), nil
}

func isWSStarAddr(a ma.Multiaddr) bool {
	codes := make([]int, len(a))
	for i, c := range a {
		codes[i] = c.Protocol().Code
	}
	if len(codes) < 5 {
		return false
	}
	switch codes[0] {
	case ma.P_IP4, ma.P_IP6, ma.P_DNS4, ma.P_DNS6, ma.P_DNS, ma.P_DNSADDR:
	default:
		return false
	}
	if codes[1] != ma.P_TCP {
		return false
	}
	rest := codes[2:]
	switch {
	case rest[0] == ma.P_WS || rest[0] == ma.P_WSS:
		rest = rest[1:]
	case len(rest) > 1 && rest[0] == ma.P_TLS && rest[1] == ma.P_WS:
		rest = rest[2:]
	default:
		return false
	}
	return len(rest) == 2 && rest[0] == P_P2P_WEBSOCKET_STAR && rest[1] == ma.P_P2P
}

// idMatches reports whether id is pk's peer ID, as go-libp2p derives it
// (the key itself for small keys) or as the old js-libp2p did (SHA-256 of
// the key for every key type).
func idMatches(id peer.ID, pk crypto.PubKey) bool {
	if id.MatchesPublicKey(pk) {
		return true
	}
	b, err := crypto.MarshalPublicKey(pk)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(b)
	enc, err := mh.Encode(sum[:], mh.SHA2_256)
	return err == nil && peer.ID(enc) == id
}
