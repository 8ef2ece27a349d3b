package transports

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// CheckListening compares the configured listen addresses with those the
// host really listens on: go-libp2p starts when at least one works and only
// logs the others, which would leave an operator with a silently missing
// /wss listener.
func CheckListening(configured, actual []ma.Multiaddr) error {
	for _, want := range configured {
		found := false
		for _, got := range actual {
			if sameListener(normalizeListen(want), got) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("listen address %s is not listening: %s", want, bindCause(want))
		}
	}
	return nil
}

// normalizeListen rewrites /wss as go-libp2p reports it: /tls/ws.
func normalizeListen(a ma.Multiaddr) ma.Multiaddr {
	out := make(ma.Multiaddr, 0, len(a)+1)
	for _, c := range a {
		if c.Protocol().Code == ma.P_WSS {
			tlsC, _ := ma.NewComponent("tls", "")
			wsC, _ := ma.NewComponent("ws", "")
			out = append(out, *tlsC, *wsC)
			continue
		}
		out = append(out, c)
	}
	return out
}

// sameListener matches component by component; a configured port 0 matches
// any port, and the /certhash parts of a WebRTC-direct or WebTransport
// listener are not part of what was configured.
func sameListener(want, got ma.Multiaddr) bool {
	got = slices.DeleteFunc(slices.Clone(got), IsCertHash)
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Protocol().Code != g.Protocol().Code {
			return false
		}
		if code := w.Protocol().Code; (code == ma.P_TCP || code == ma.P_UDP) && w.Value() == "0" {
			continue
		}
		if w.Value() != g.Value() {
			return false
		}
	}
	return true
}

// bindCause tries the bind itself to name the operating system's reason.
func bindCause(a ma.Multiaddr) string {
	network, host, err := manet.DialArgs(a)
	if err != nil {
		return "unsupported address (" + err.Error() + ")"
	}
	if _, port, err := net.SplitHostPort(host); err == nil {
		if p, _ := strconv.Atoi(port); p == 0 {
			return "the transport refused it (see the log above)"
		}
	}
	var l io.Closer
	if strings.HasPrefix(network, "udp") {
		l, err = net.ListenPacket(network, host)
	} else {
		l, err = net.Listen(network, host)
	}
	if err != nil {
		return err.Error()
	}
	l.Close()
	return "the transport refused it (is a TLS certificate configured for a secure WebSocket address?)"
}
