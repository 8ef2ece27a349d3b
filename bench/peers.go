package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	ma "github.com/multiformats/go-multiaddr"
)

// maxKeyFileBytes bounds a key file read at start: 10,000 keys take about
// 1 MiB base64-encoded.
const maxKeyFileBytes = 64 << 20

// Keys returns n Ed25519 keys. With a path, keys stored there are reused and
// missing ones are generated and appended, so repeated runs (and both sides
// of a comparison) use the same peer IDs and skip key generation.
func Keys(path string, n int) ([]crypto.PrivKey, error) {
	var keys []crypto.PrivKey
	if path != "" {
		var err error
		if keys, err = readKeys(path, n); err != nil {
			return nil, err
		}
	}
	have := len(keys)
	for len(keys) < n {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if path != "" && have < n {
		if err := appendKeys(path, keys[have:]); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func readKeys(path string, n int) ([]crypto.PrivKey, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("key file %s: larger than %d bytes", path, maxKeyFileBytes)
	}
	var keys []crypto.PrivKey
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan() && len(keys) < n; line++ {
		b, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sc.Bytes())))
		if err != nil {
			return nil, fmt.Errorf("key file %s line %d: %w", path, line, err)
		}
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("key file %s line %d: %w", path, line, err)
		}
		keys = append(keys, k)
	}
	return keys, sc.Err()
}

func appendKeys(path string, keys []crypto.PrivKey) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, k := range keys {
		b, err := crypto.MarshalPrivateKey(k)
		if err != nil {
			f.Close()
			return err
		}
		w.WriteString(base64.StdEncoding.EncodeToString(b))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// NewPeer starts a minimal host for one simulated peer: WebSockets, Noise and
// yamux only, no metrics, no resource or connection manager, no address
// discovery. listen makes it listen on a loopback port (for direct dials);
// otherwise it is browser-like and reachable only through a relay.
func NewPeer(key crypto.PrivKey, listen bool) (host.Host, error) {
	return newPeerWith(key, listen, yamux.DefaultTransport)
}

// newPeerWith is NewPeer with its own yamux settings (a smaller receive
// window, as a browser's).
func newPeerWith(key crypto.PrivKey, listen bool, mux *yamux.Transport) (host.Host, error) {
	return newPeerOn(key, listen, mux, TransportWS)
}

// newPeerOn is newPeerWith on one transport; listen goes with ws only.
// WebRTC-direct and WebTransport bring their own stream multiplexing, so
// mux only matters on WebSockets.
func newPeerOn(key crypto.PrivKey, listen bool, mux *yamux.Transport, t Transport) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.Identity(key),
		t.option(),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, mux),
		libp2p.DisableMetrics(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.Ping(false),
		libp2p.EnableRelay(),
		libp2p.UserAgent("rendezvous-bench"),
	}
	if listen {
		opts = append(opts, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0/ws"))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	return libp2p.New(opts...)
}

// circuitAddrs are the addresses at which p is reachable through the relay.
func circuitAddrs(relay peer.AddrInfo, p peer.ID) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(relay.Addrs))
	suffix, err := ma.NewMultiaddr("/p2p/" + relay.ID.String() + "/p2p-circuit")
	if err != nil {
		return nil
	}
	for _, a := range relay.Addrs {
		out = append(out, a.Encapsulate(suffix))
	}
	return out
}

// connect dials the node. The host's Connect returns once identify has run,
// so the node holds the peer's signed record before the peer joins anything.
func connect(ctx context.Context, h host.Host, node peer.AddrInfo) error {
	return h.Connect(ctx, node)
}
