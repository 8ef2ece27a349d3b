package config

import (
	"errors"
	"strings"
	"testing"
)

func TestAutoTLSAddsASecureListenerBesideEveryPlainWebSocketPort(t *testing.T) {
	c := Default()
	c.AutoTLS.Enabled = true
	c.Listen = []string{
		"/ip4/0.0.0.0/tcp/9090/ws",
		"/ip6/::/tcp/9091/ws",
		"/ip4/0.0.0.0/tcp/443/ws",
		"/ip4/0.0.0.0/tcp/443/tls/ws",
		"/ip4/0.0.0.0/udp/9090/webrtc-direct",
	}
	c.TLS.CertFile, c.TLS.KeyFile = "cert.pem", "key.pem"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := c.AutoTLSListenAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, a := range got {
		s = append(s, a.String())
	}
	// Port 443 already has a secure listener: it serves both certificates.
	want := "/ip4/0.0.0.0/tcp/9090/tls/sni/*.libp2p.direct/ws /ip6/::/tcp/9091/tls/sni/*.libp2p.direct/ws"
	if strings.Join(s, " ") != want {
		t.Fatalf("AutoTLS listeners %v, want %s", s, want)
	}
	c.AutoTLS.Enabled = false
	if got, _ := c.AutoTLSListenAddrs(); len(got) != 0 {
		t.Fatalf("AutoTLS off still adds %v", got)
	}
}

func TestAutoTLSStoreDefaultsBesideTheIdentityKey(t *testing.T) {
	c := Default()
	c.Identity.KeyFile = "/var/lib/rendezvous/identity.key"
	if got := c.AutoTLSStoreDir(); got != "/var/lib/rendezvous/autotls" {
		t.Fatalf("store %q", got)
	}
	c.AutoTLS.Store = "/certs"
	if got := c.AutoTLSStoreDir(); got != "/certs" {
		t.Fatalf("store %q", got)
	}
}

func TestAutoTLSValidateReportsEveryBadField(t *testing.T) {
	c := Default()
	c.AutoTLS = AutoTLS{Enabled: true, RegistrationEndpoint: "ftp://x", ForgeDomain: "-bad.", CADirectory: "not a url"}
	c.Listen = []string{"/ip4/0.0.0.0/udp/9090/webrtc-direct"}
	c.ProxyProtocol.From = []string{"10.0.0.0/8"}
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate: %v", err)
	}
	got := map[string]int{}
	for _, p := range ve.Problems {
		got[p.Path]++
	}
	for _, path := range []string{"autotls.registration_endpoint", "autotls.ca_directory", "autotls.forge_domain", "autotls.enabled"} {
		if got[path] == 0 {
			t.Errorf("no problem reported for %s: %v", path, ve)
		}
	}
	// Off, the same values are not checked: the defaults stay usable.
	c.AutoTLS.Enabled = false
	c.ProxyProtocol.From = []string{}
	c.Listen = Default().Listen
	if err := c.Validate(); err != nil {
		t.Fatalf("AutoTLS off: %v", err)
	}
}

func TestAutoTLSFromFlagAndEnvironment(t *testing.T) {
	o, err := FromEnv(env(map[string]string{EnvAutoTLS: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.Apply(o); err != nil || !c.AutoTLS.Enabled {
		t.Fatalf("RENDEZVOUS_AUTOTLS=true: enabled %v, err %v", c.AutoTLS.Enabled, err)
	}
}
