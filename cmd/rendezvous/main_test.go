package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/ws-star/rendezvous/config"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// runCmd runs a command that returns by itself.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestBadConfigurationExitsWithOneClearLine(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"relay": {"max_reservations": 10, "bogus": 1}}`), 0o644)
	invalid := filepath.Join(dir, "invalid.json")
	os.WriteFile(invalid, []byte(`{"relay": {"max_reservations": -1}, "log": {"level": "loud"}}`), 0o644)

	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"port not a number", []string{"--port=abc"}, nil, []string{"port"}},
		{"unknown flag", []string{"--no-such-flag"}, nil, []string{"no-such-flag"}},
		{"unknown key", []string{"--config", unknown}, nil, []string{"relay.bogus"}},
		{"invalid fields", []string{"--config", invalid}, nil, []string{"relay.max_reservations", "log.level"}},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.json")}, nil, []string{"nope.json"}},
		{"junk DISABLE_METRICS", nil, map[string]string{"DISABLE_METRICS": "maybe"}, []string{"DISABLE_METRICS"}},
		{"host is a name", []string{"--host", "example.com"}, nil, []string{"example.com"}},
		{"both cluster modes", []string{"--cluster-listen", ":6222"}, map[string]string{"RENDEZVOUS_NATS_URL": "nats://n1:4222"},
			[]string{"cluster.nats_url", "not both"}},
		{"admin API off loopback without a token", []string{"--admin-addr", "0.0.0.0:9091"}, nil,
			[]string{"admin.addr", "admin.token_file"}},
		{"cluster route port 0", []string{"--cluster-listen", ":6222", "--cluster-routes", "b:6222,c:0"}, nil,
			[]string{"cluster.embedded.routes[1]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, env(tc.env), append(tc.args, "--identity", filepath.Join(t.TempDir(), "k"))...)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr %q", code, exitUsage, stderr)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one line on stderr, got %d: %q", len(lines), stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not name %q", stderr, w)
				}
			}
		})
	}
}

func TestPortFlagAcceptsBothSpellings(t *testing.T) {
	for _, args := range [][]string{{"--port=4001"}, {"--port", "4001"}, {"-port", "4001"}} {
		f := newFlags(io.Discard)
		if err := f.parse(args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if f.overrides.Port == nil || *f.overrides.Port != 4001 {
			t.Fatalf("%v: port override %v", args, f.overrides.Port)
		}
	}
}

func TestClusterFlagsOverrideOnlyWhenGiven(t *testing.T) {
	f := newFlags(io.Discard)
	if err := f.parse([]string{"--port", "1"}); err != nil {
		t.Fatal(err)
	}
	if o := f.overrides; o.NATSURL != nil || o.ClusterListen != nil || o.ClusterRoutes != nil || o.ClusterStore != nil {
		t.Fatalf("cluster overrides set without their flags: %+v", o)
	}

	f = newFlags(io.Discard)
	if err := f.parse([]string{
		"--nats-url", "nats://n1:4222,nats://n2:4222",
		"--cluster-listen=:6222",
		"--cluster-routes", " b:6222, ,c:6222",
		"--cluster-store", "/data/nats",
	}); err != nil {
		t.Fatal(err)
	}
	o := f.overrides
	if o.NATSURL == nil || *o.NATSURL != "nats://n1:4222,nats://n2:4222" {
		t.Errorf("--nats-url: %v", o.NATSURL)
	}
	if o.ClusterListen == nil || *o.ClusterListen != ":6222" {
		t.Errorf("--cluster-listen: %v", o.ClusterListen)
	}
	if strings.Join(o.ClusterRoutes, "|") != "b:6222|c:6222" {
		t.Errorf("--cluster-routes: %q", o.ClusterRoutes)
	}
	if o.ClusterStore == nil || *o.ClusterStore != "/data/nats" {
		t.Errorf("--cluster-store: %v", o.ClusterStore)
	}

	// Flags beat the environment; an empty --cluster-routes clears the list.
	f = newFlags(io.Discard)
	if err := f.parse([]string{"--cluster-listen", ":7222", "--cluster-routes", ""}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(f, env(map[string]string{
		"RENDEZVOUS_CLUSTER_LISTEN": ":6222",
		"RENDEZVOUS_CLUSTER_ROUTES": "b:6222",
		"RENDEZVOUS_CLUSTER_STORE":  "/env/nats",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Cluster.Embedded; e.Listen != ":7222" || len(e.Routes) != 0 || e.StoreDir != "/env/nats" {
		t.Fatalf("embedded = %+v", e)
	}
}

func TestNATSPasswordNeverReachesStderr(t *testing.T) {
	code, _, stderr := runCmd(t, env(map[string]string{"RENDEZVOUS_NATS_URL": "nats://alice:s3cret@n1:99999"}),
		"--identity", filepath.Join(t.TempDir(), "k"))
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d; stderr %q", code, exitUsage, stderr)
	}
	if strings.Contains(stderr, "alice") || strings.Contains(stderr, "s3cret") {
		t.Fatalf("stderr shows the credentials: %q", stderr)
	}
	if !strings.Contains(stderr, "nats://***@n1:99999") {
		t.Fatalf("stderr %q does not show the redacted URL", stderr)
	}
}

func TestInitWritesClusterFlagsIntoTheFile(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "rendezvous.json")
	code, _, stderr := runCmd(t, env(nil), "init", "--config", cfgPath, "--identity", filepath.Join(dir, "identity.key"),
		"--cluster-listen", "10.0.0.1:6222", "--cluster-routes", "10.0.0.2:6222,10.0.0.3:6222")
	if code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := cfg.Cluster.Embedded
	if e.Listen != "10.0.0.1:6222" || strings.Join(e.Routes, ",") != "10.0.0.2:6222,10.0.0.3:6222" {
		t.Fatalf("embedded = %+v", e)
	}
	if cfg.Cluster.EffectiveReplicas() != 3 || cfg.ClusterStoreDir() != filepath.Join(dir, "cluster") {
		t.Fatalf("replicas %d, store %s", cfg.Cluster.EffectiveReplicas(), cfg.ClusterStoreDir())
	}
}

func TestInitWritesConfigAndKeyThatIDReads(t *testing.T) {
	dir := t.TempDir()
	cfgPath, keyPath := filepath.Join(dir, "rendezvous.json"), filepath.Join(dir, "identity.key")
	code, out, stderr := runCmd(t, env(nil), "init", "--config", cfgPath, "--identity", keyPath)
	if code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	if !strings.Contains(out, "created identity") {
		t.Fatalf("init output %q", out)
	}
	code, out, stderr = runCmd(t, env(nil), "id", "--config", cfgPath, "--port", "4001")
	if code != 0 {
		t.Fatalf("id: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[1] != "/ip4/0.0.0.0/tcp/4001/ws/p2p/"+lines[0] ||
		!strings.HasPrefix(lines[2], "/ip4/0.0.0.0/udp/4001/webrtc-direct/certhash/") || !strings.HasSuffix(lines[2], "/p2p/"+lines[0]) ||
		lines[3] != "/ip4/0.0.0.0/udp/4001/quic-v1/webtransport/p2p/"+lines[0] {
		t.Fatalf("id output %q", out)
	}
	if code, _, stderr = runCmd(t, env(nil), "init", "--config", cfgPath, "--identity", keyPath); code == 0 {
		t.Fatal("init overwrote an existing config")
	} else if !strings.Contains(stderr, cfgPath) {
		t.Fatalf("refusal %q should name the file", stderr)
	}
}

// startRun runs the node command until the test ends and returns its first
// printed multiaddr.
func startRun(t *testing.T, getenv func(string) string, args ...string) ma.Multiaddr {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, args, pw, &stderr, getenv)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("node exited with %d: %s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("node did not stop within 15 s of the signal")
		}
	})
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("node printed no address: %s", stderr.String())
	}
	go io.Copy(io.Discard, pr)
	a, err := ma.NewMultiaddr(sc.Text())
	if err != nil {
		t.Fatalf("first stdout line %q is not a multiaddr: %v", sc.Text(), err)
	}
	if _, err := a.ValueForProtocol(ma.P_P2P); err != nil {
		t.Fatalf("printed address %s has no /p2p/ component", a)
	}
	return a
}

func httpGet(t *testing.T, a ma.Multiaddr, path string) int {
	t.Helper()
	_, hostport, err := manet.DialArgs(a.Decapsulate(ma.StringCast("/ws")))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + hostport + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunPrintsAddressesAndHonoursEnvironment(t *testing.T) {
	key := filepath.Join(t.TempDir(), "identity.key")
	// DISABLE_METRICS=0 must keep metrics on, unlike the legacy server.
	a := startRun(t, env(map[string]string{"HOST": "127.0.0.1", "PORT": "0", "DISABLE_METRICS": "0"}), "--identity", key)
	if code := httpGet(t, a, "/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics with DISABLE_METRICS=0: %d", code)
	}
	if code := httpGet(t, a, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
}

func TestDisableMetricsFromEnvironmentAndFlagsBeatEnvironment(t *testing.T) {
	key := filepath.Join(t.TempDir(), "identity.key")
	a := startRun(t, env(map[string]string{"HOST": "0.0.0.0", "PORT": "1", "DISABLE_METRICS": "true"}),
		"--identity", key, "--host", "127.0.0.1", "--port=0")
	if ip, _ := a.ValueForProtocol(ma.P_IP4); ip != "127.0.0.1" {
		t.Fatalf("--host did not beat HOST: %s", a)
	}
	if code := httpGet(t, a, "/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics with DISABLE_METRICS=true: %d, want 404", code)
	}
}
