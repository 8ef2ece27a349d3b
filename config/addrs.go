package config

import (
	"errors"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"
)

// ListenAddrs parses listen.
func (c Config) ListenAddrs() ([]ma.Multiaddr, error) { return parseAddrs("listen", c.Listen) }

// AnnounceAddrs parses announce.
func (c Config) AnnounceAddrs() ([]ma.Multiaddr, error) { return parseAddrs("announce", c.Announce) }

// NoAnnounceAddrs parses no_announce.
func (c Config) NoAnnounceAddrs() ([]ma.Multiaddr, error) {
	return parseAddrs("no_announce", c.NoAnnounce)
}

// UsesTLS reports whether a listen address is a secure WebSocket (/wss,
// /tls/ws or /tls/sni/<name>/ws), so the node must load tls.cert_file and
// tls.key_file. Unparsable addresses count as not secure; Validate reports
// them.
func (c Config) UsesTLS() bool {
	for _, s := range c.Listen {
		if a, err := ma.NewMultiaddr(s); err == nil {
			if k, err := listenerKind(a); err == nil && k == listenWSS {
				return true
			}
		}
	}
	return false
}

func parseAddrs(path string, ss []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(ss))
	for i, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("config: %s[%d]: %q: %w", path, i, s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Listener kinds, as listenerKind reports them.
const (
	listenWS = iota
	listenWSS
	listenWebRTCDirect
	listenWebTransport
)

// listenerKind checks that a is an address one of the node's transports can
// listen on and says which: /ip4|/ip6 <ip> /tcp <port> then /ws, /wss,
// /tls/ws or /tls/sni/<name>/ws (WebSockets; all but /ws are secure), or
// /ip4|/ip6 <ip> /udp <port> then /webrtc-direct or /quic-v1/webtransport.
// go-libp2p drops a listen address no transport takes with only a log line.
// A /certhash is refused: the node's certificates make their own.
func listenerKind(a ma.Multiaddr) (int, error) {
	codes := make([]int, len(a))
	for i, c := range a {
		codes[i] = c.Protocol().Code
	}
	if len(codes) < 2 || (codes[0] != ma.P_IP4 && codes[0] != ma.P_IP6) || (codes[1] != ma.P_TCP && codes[1] != ma.P_UDP) {
		return 0, errors.New("must start with /ip4/<address>/tcp/<port>, /ip6/<address>/tcp/<port> or the same with /udp/<port>")
	}
	rest := codes[2:]
	switch codes[1] {
	case ma.P_TCP:
		switch {
		case len(rest) == 1 && rest[0] == ma.P_WS:
			return listenWS, nil
		case len(rest) == 1 && rest[0] == ma.P_WSS,
			len(rest) == 2 && rest[0] == ma.P_TLS && rest[1] == ma.P_WS,
			len(rest) == 3 && rest[0] == ma.P_TLS && rest[1] == ma.P_SNI && rest[2] == ma.P_WS:
			return listenWSS, nil
		}
		return 0, errors.New("must end in /ws, /wss, /tls/ws or /tls/sni/<name>/ws (the node's TCP transport is WebSockets)")
	case ma.P_UDP:
		switch {
		case len(rest) == 1 && rest[0] == ma.P_WEBRTC_DIRECT:
			return listenWebRTCDirect, nil
		case len(rest) == 2 && rest[0] == ma.P_QUIC_V1 && rest[1] == ma.P_WEBTRANSPORT:
			return listenWebTransport, nil
		}
	}
	return 0, errors.New("a UDP address must end in /webrtc-direct or /quic-v1/webtransport")
}

// HasWebRTCDirect and HasWebTransport report whether listen has an address
// of that transport, so the node adds the transport only when it is used.
func (c Config) HasWebRTCDirect() bool { return c.listens(listenWebRTCDirect) }

// HasWebTransport: see HasWebRTCDirect.
func (c Config) HasWebTransport() bool { return c.listens(listenWebTransport) }

func (c Config) listens(kind int) bool {
	for _, s := range c.Listen {
		if a, err := ma.NewMultiaddr(s); err == nil {
			if k, err := listenerKind(a); err == nil && k == kind {
				return true
			}
		}
	}
	return false
}
