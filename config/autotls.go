package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
)

// AutoTLS gets a certificate for *.<peer id>.<forge domain> from a p2p-forge
// registration service and an ACME CA (DNS-01), so the WebSocket port also
// serves secure WebSockets under a name the node did not have to buy.
type AutoTLS struct {
	// Enabled turns it on; off by default because the forge only answers a
	// node it can dial back from the internet.
	Enabled bool `json:"enabled"`
	// Store is the directory of the certificate, its key and the ACME
	// account; empty means "autotls" beside the identity key.
	Store string `json:"store"`
	// RegistrationEndpoint is the forge's HTTP API (URL).
	RegistrationEndpoint string `json:"registration_endpoint"`
	// ForgeDomain is the forge's DNS suffix.
	ForgeDomain string `json:"forge_domain"`
	// CADirectory is the ACME directory URL of the CA.
	CADirectory string `json:"ca_directory"`
	// TrustedRoots is a PEM file of the roots that verify the CA's HTTPS
	// endpoint; empty trusts the system's roots.
	TrustedRoots string `json:"trusted_roots"`
}

// AutoTLSStoreDir is autotls.store, or "autotls" beside the identity key.
func (c Config) AutoTLSStoreDir() string {
	if d := c.AutoTLS.Store; d != "" {
		return d
	}
	return filepath.Join(filepath.Dir(c.Identity.KeyFile), "autotls")
}

// AutoTLSListenAddrs are the listen addresses AutoTLS adds: for every /ws
// listener, a /tls/sni/*.<forge domain>/ws one on the same IP and port,
// unless a secure WebSocket listener with the node's own certificate is
// already there (that listener then serves both certificates, chosen by
// the name the client asks for). Empty when AutoTLS is off.
func (c Config) AutoTLSListenAddrs() ([]ma.Multiaddr, error) {
	if !c.AutoTLS.Enabled {
		return nil, nil
	}
	listen, err := c.ListenAddrs()
	if err != nil {
		return nil, err
	}
	secure := map[string]bool{}
	for _, a := range listen {
		if k, err := listenerKind(a); err == nil && k == listenWSS {
			secure[tcpPart(a)] = true
		}
	}
	var out []ma.Multiaddr
	for _, a := range listen {
		if k, err := listenerKind(a); err != nil || k != listenWS || secure[tcpPart(a)] {
			continue
		}
		sni, err := ma.NewMultiaddr(tcpPart(a) + "/tls/sni/*." + c.AutoTLS.ForgeDomain + "/ws")
		if err != nil {
			return nil, fmt.Errorf("config: autotls.forge_domain %q: %w", c.AutoTLS.ForgeDomain, err)
		}
		out = append(out, sni)
	}
	return out, nil
}

// tcpPart is /ipX/<ip>/tcp/<port> of a WebSocket listen address.
func tcpPart(a ma.Multiaddr) string {
	if len(a) < 2 {
		return a.String()
	}
	return a[:2].String()
}

func (c Config) validateAutoTLS(v *validator) {
	a := c.AutoTLS
	if !a.Enabled {
		return
	}
	for _, u := range []struct{ path, value string }{
		{"autotls.registration_endpoint", a.RegistrationEndpoint},
		{"autotls.ca_directory", a.CADirectory},
	} {
		p, err := url.Parse(u.value)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			v.Add(u.path, strconv.Quote(u.value), "must be an http:// or https:// URL")
		}
	}
	if !validDomain(a.ForgeDomain) {
		v.Add("autotls.forge_domain", strconv.Quote(a.ForgeDomain), "must be a DNS name such as libp2p.direct")
	}
	hasWS := false
	for _, s := range c.Listen {
		if m, err := ma.NewMultiaddr(s); err == nil {
			if k, err := listenerKind(m); err == nil && (k == listenWS || k == listenWSS) {
				hasWS = true
			}
		}
	}
	if !hasWS {
		v.Add("autotls.enabled", "true", "needs a WebSocket (TCP) listen address: the certificate is served on its port")
	}
	if len(c.ProxyProtocol.From) > 0 {
		// The WebSocket port then tells TLS from plain HTTP by the first
		// bytes, which a PROXY header hides.
		v.Add("autotls.enabled", "true", "cannot be combined with proxy_protocol.from: a proxy in front of the node terminates TLS itself")
	}
}

// validDomain accepts dot-separated labels of letters, digits and hyphens.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
