// Package testforge runs an AutoTLS issuing chain on loopback for tests: the
// p2p-forge registration API and DNS server (CoreDNS with p2p-forge's
// plugins, built from the p2p-forge module) and the pebble ACME test CA
// (built from its module), each as a child process the test stops. Both
// are `tool` entries of go.mod, so they build offline from the module
// cache.
package testforge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	forge "github.com/ipshipyard/p2p-forge/client"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/nodeproc"
	"github.com/ws-star/rendezvous/internal/selfsigned"
)

const (
	// Domain is the forge domain the test forge serves.
	Domain = forge.DefaultForgeDomain
	// registrationHost is the Host the registration API answers to
	// (Corefile registration-domain).
	registrationHost = "registration." + Domain
	buildTimeout     = 5 * time.Minute
	startTimeout     = time.Minute
)

// Forge is a running registration API, DNS server and ACME CA.
type Forge struct {
	// RegistrationEndpoint is the forge's API (autotls.registration_endpoint).
	RegistrationEndpoint string
	// CADirectory is pebble's ACME directory (autotls.ca_directory).
	CADirectory string
	// TrustedRoots is a PEM file with the root of pebble's HTTPS endpoint
	// (autotls.trusted_roots).
	TrustedRoots string
	// DNS is the forge's DNS server, host:port (UDP and TCP).
	DNS string
	// Issuer is the root pebble signs certificates with: what clients of
	// the node trust; IssuerFile holds it as PEM.
	Issuer     *x509.CertPool
	IssuerFile string
	IssuerDER  []byte
}

// Options for Start.
type Options struct {
	// Validity is the lifetime of the certificates pebble issues (default
	// 90 days); a short one makes the client renew while the test runs.
	Validity time.Duration
}

// Start builds and runs p2p-forge and pebble on 127.0.0.1 and waits until
// both answer. Everything stops when the test ends.
func Start(t testing.TB, o Options) *Forge {
	t.Helper()
	if o.Validity <= 0 {
		o.Validity = 90 * 24 * time.Hour
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	forgeBin, pebbleBin := filepath.Join(dir, "p2p-forge"), filepath.Join(dir, "pebble")
	for pkg, out := range map[string]string{"github.com/ipshipyard/p2p-forge": forgeBin, "github.com/letsencrypt/pebble/v2/cmd/pebble": pebbleBin} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}

	f := &Forge{}
	dnsPort := freePort(t, true)
	regPort, acmePort, mgmtPort := freePort(t, false), freePort(t, false), freePort(t, false)
	f.DNS = net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort))
	f.RegistrationEndpoint = fmt.Sprintf("http://127.0.0.1:%d", regPort)

	// ipparser answers negative queries with the zone's SOA, read from
	// zones/<domain> under the working directory.
	if err := os.Mkdir(filepath.Join(dir, "zones"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "zones", Domain), []byte(fmt.Sprintf(`$TTL 300
$ORIGIN %[1]s.
@ 3600 IN SOA ns.%[1]s. test.%[1]s. ( 1 3600 600 86400 60 )
@ 3600 IN NS ns.%[1]s.
ns 3600 IN A 127.0.0.1
`, Domain)))
	corefile := filepath.Join(dir, "Corefile")
	write(t, corefile, []byte(fmt.Sprintf(`%s:%d {
	bind 127.0.0.1
	errors
	ipparser %s
	acme %s {
		registration-domain %s listen-address=127.0.0.1:%d external-tls=true
		database-type badger %s
	}
}
`, Domain, dnsPort, Domain, Domain, registrationHost, regPort, filepath.Join(dir, "badger"))))
	run(t, dir, "p2p-forge", forgeBin, nil, "-conf", corefile)
	waitFor(t, "p2p-forge registration API", func() bool {
		resp, err := http.Get(f.RegistrationEndpoint + forge.HealthCheckPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})

	// pebble's HTTPS front end gets a certificate of this test's own.
	wfeCert, wfeKey := filepath.Join(dir, "wfe-cert.pem"), filepath.Join(dir, "wfe-key.pem")
	wfePool := selfSigned(t, wfeCert, wfeKey)
	f.TrustedRoots = wfeCert
	conf, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    wfeCert,
		"privateKey":                     wfeKey,
		"httpPort":                       5002,
		"tlsPort":                        5001,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description":    "test",
			"validityPeriod": int(o.Validity / time.Second),
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	pebbleConf := filepath.Join(dir, "pebble.json")
	write(t, pebbleConf, conf)
	// No random sleep before validation, no injected bad nonces: the test
	// is about the node, not about the client's retries.
	run(t, dir, "pebble", pebbleBin, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		"-config", pebbleConf, "-dnsserver", f.DNS)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: wfePool}}}
	f.CADirectory = fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort)
	waitFor(t, "pebble ACME directory", func() bool {
		resp, err := client.Get(f.CADirectory)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmtPort))
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	root, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(root)
	if block == nil {
		t.Fatalf("pebble root is not PEM: %q", root)
	}
	f.IssuerDER = block.Bytes
	f.Issuer = x509.NewCertPool()
	f.Issuer.AppendCertsFromPEM(root)
	f.IssuerFile = filepath.Join(dir, "issuer.pem")
	write(t, f.IssuerFile, root)
	return f
}

// AutoTLS is the node's autotls section for this forge, enabled.
func (f *Forge) AutoTLS() config.AutoTLS {
	return config.AutoTLS{
		Enabled:              true,
		RegistrationEndpoint: f.RegistrationEndpoint,
		ForgeDomain:          Domain,
		CADirectory:          f.CADirectory,
		TrustedRoots:         f.TrustedRoots,
	}
}

// Resolver asks the forge's DNS server.
func (f *Forge) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, f.DNS)
		},
	}
}

// ClientOptions are what a node needs on top of its autotls config to use
// this forge: the forge's DNS for the DNS-01 check, the Host the
// registration API answers to, and loopback addresses for the forge to dial.
func (f *Forge) ClientOptions() []forge.P2PForgeCertMgrOptions {
	return []forge.P2PForgeCertMgrOptions{
		forge.WithResolver(f.Resolver()),
		forge.WithAllowPrivateForgeAddrs(),
		forge.WithModifiedForgeRequest(func(r *http.Request) error {
			r.Host = registrationHost
			return nil
		}),
	}
}

func run(t testing.TB, dir, name, bin string, env []string, args ...string) {
	t.Helper()
	out := nodeproc.NewTail(64 << 10)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, out.String())
		}
	})
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up within %s", what, startTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort finds a free TCP port on 127.0.0.1 (and free for UDP too when
// udp is set).
func freePort(t testing.TB, udp bool) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !udp {
			l.Close()
			return port
		}
		pc, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// pool trusting it.
func selfSigned(t testing.TB, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	c, err := selfsigned.New("pebble test front end", time.Now().UnixNano(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write(t, certFile, c.CertPEM)
	write(t, keyFile, c.KeyPEM)
	return c.Pool
}
