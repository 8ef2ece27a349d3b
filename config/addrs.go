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
			if secure, err := wsListener(a); err == nil && secure {
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

// wsListener checks that a is an address the WebSocket transport can listen
// on, /ip4|/ip6 <ip> /tcp <port> then /ws, /wss, /tls/ws or /tls/sni/<name>/ws,
// and reports whether it is secure. The node has no other transport, and
// go-libp2p drops a listen address no transport takes with only a log line.
func wsListener(a ma.Multiaddr) (secure bool, err error) {
	codes := make([]int, len(a))
	for i, c := range a {
		codes[i] = c.Protocol().Code
	}
	if len(codes) < 2 || (codes[0] != ma.P_IP4 && codes[0] != ma.P_IP6) || codes[1] != ma.P_TCP {
		return false, errors.New("must start with /ip4/<address>/tcp/<port> or /ip6/<address>/tcp/<port>")
	}
	rest := codes[2:]
	switch {
	case len(rest) == 1 && rest[0] == ma.P_WS:
		return false, nil
	case len(rest) == 1 && rest[0] == ma.P_WSS,
		len(rest) == 2 && rest[0] == ma.P_TLS && rest[1] == ma.P_WS,
		len(rest) == 3 && rest[0] == ma.P_TLS && rest[1] == ma.P_SNI && rest[2] == ma.P_WS:
		return true, nil
	}
	return false, errors.New("must end in /ws, /wss, /tls/ws or /tls/sni/<name>/ws (the node listens on WebSockets only)")
}
