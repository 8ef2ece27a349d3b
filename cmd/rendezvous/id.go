package main

import (
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/node"
)

// runID prints the peer ID and the addresses the node would advertise,
// without starting it: the announced addresses when configured, else the
// listen addresses. A WebRTC-direct address gets its /certhash, which the
// identity key determines; a WebTransport one cannot (its certificates are
// made when the node starts and rotate), so it is printed without.
func runID(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseConfig(args, stdout, getenv)
	if err != nil {
		return err
	}
	key, err := node.LoadKey(cfg.Identity.KeyFile)
	if err != nil {
		return err
	}
	id, err := peerIDOf(key)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	addrs := cfg.Announce
	if len(addrs) == 0 {
		addrs = cfg.Listen
	}
	p2p, err := ma.NewComponent("p2p", id.String())
	if err != nil {
		return err
	}
	var webrtc *libp2pwebrtc.WebRTCTransport
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return usageErr("address %q: %v", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_WEBRTC_DIRECT); err == nil {
			if webrtc == nil {
				// Only derives the certificate: nothing listens or dials.
				if webrtc, err = libp2pwebrtc.New(key, nil, nil, nil, nil); err != nil {
					return err
				}
			}
			if withHash, ok := webrtc.AddCertHashes(a); ok {
				a = withHash
			}
		}
		fmt.Fprintln(stdout, a.Encapsulate(p2p))
	}
	return nil
}

func peerIDOf(key crypto.PrivKey) (peer.ID, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("identity key: %w", err)
	}
	return id, nil
}
