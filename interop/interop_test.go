// Package interop runs the JavaScript interop suites against the real node
// binary: js-libp2p 3.x clients relaying through it, js-libp2p apps finding
// each other with pubsub-peer-discovery through it, and the canvas
// rendezvous client (js-libp2p 2.x) discovering peers through it. Node.js
// (20 or newer) and npm are required; the npm projects install from their
// committed lockfiles on first use.
package interop

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/nodeproc"
)

const (
	buildTimeout   = 5 * time.Minute
	installTimeout = 8 * time.Minute // a cold npm cache downloads everything
	suiteTimeout   = 5 * time.Minute
)

// TestJSLibp2pClientsRelayThroughNode: js-libp2p 3.x peers connect over /ws,
// identify and ping the node, hold a relay reservation and echo 64 MiB over
// an unlimited circuit (interop/js-libp2p/test).
func TestJSLibp2pClientsRelayThroughNode(t *testing.T) {
	runJSSuite(t, "js-libp2p", nil)
}

// TestCanvasRendezvousClientDiscoversPeers: two @canvas-js/libp2p-rendezvous
// peers register in one namespace through /canvas/rendezvous/1.0.0 and each
// discovers the other (interop/canvas/test).
func TestCanvasRendezvousClientDiscoversPeers(t *testing.T) {
	runJSSuite(t, "canvas", buildSQLite)
}

// TestOldWSStarClientsJoinDiscoverAndEchoThroughNode: the real
// libp2p-websocket-star 0.10.2 transport (socket.io 2) joins at /socket.io/
// on the node's port through the crypto challenge with Ed25519 and RSA keys,
// discovers the other listeners and echoes data through the node; a wrong
// key or signature is refused with the old server's error text
// (interop/ws-star-legacy/test).
func TestOldWSStarClientsJoinDiscoverAndEchoThroughNode(t *testing.T) {
	runJSSuite(t, "ws-star-legacy", nil)
}

// buildSQLite makes sure the native module of better-sqlite3 (used by the
// canvas client package) loads. Its install script first tries to download a
// prebuilt binary, which fails where GitHub is unreachable, then
// compiles; when npm skipped the script, it is compiled here from source.
func buildSQLite(t *testing.T, project string) {
	loads := func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "-e", "require('better-sqlite3')(':memory:').close()")
		cmd.Dir = project
		return cmd.Run() == nil
	}
	if loads() {
		return
	}
	run(t, project, installTimeout, nil, "npm", "rebuild", "better-sqlite3")
	if !loads() {
		t.Fatal("better-sqlite3 does not load after npm rebuild better-sqlite3")
	}
}

// runJSSuite builds the node, installs the npm project in dir when needed
// (then runs postInstall), and runs `node --test` there with RENDEZVOUS_BIN
// on the given test files (default: all of test/).
func runJSSuite(t *testing.T, dir string, postInstall func(t *testing.T, project string), tests ...string) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20+) is required for the interop suites: %v", err)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("npm is required for the interop suites: %v", err)
	}
	bin := buildNode(t)
	project := installNPM(t, dir, postInstall)

	args := []string{"--test", "--test-reporter=spec"}
	if !hasGlobalWebSocket(t, nodeBin) {
		args = append([]string{"--experimental-websocket"}, args...)
	}
	if len(tests) == 0 {
		tests = []string{"test/"}
	}
	args = append(args, tests...)
	start := time.Now()
	run(t, project, suiteTimeout, []string{"RENDEZVOUS_BIN=" + bin}, nodeBin, args...)
	t.Logf("%s: %s passed in %s", dir, strings.Join(tests, " "), time.Since(start).Round(time.Millisecond))
}

// installNPM runs `npm ci` in dir when node_modules is missing or stale
// (then postInstall, when set) and returns dir's absolute path.
func installNPM(t *testing.T, dir string, postInstall func(t *testing.T, project string)) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("npm is required for the interop suites: %v", err)
	}
	project, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if stale, why := needsInstall(project); stale {
		t.Logf("%s: npm ci (%s)", dir, why)
		start := time.Now()
		run(t, project, installTimeout, nil, "npm", "ci", "--no-audit", "--no-fund")
		if postInstall != nil {
			postInstall(t, project)
		}
		t.Logf("%s: installed in %s", dir, time.Since(start).Round(time.Millisecond))
	}
	return project
}

// raceEnabled is set by race_test.go when the tests are built with -race.
var raceEnabled bool

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildNode builds ./cmd/rendezvous once per test binary, into a directory
// removed by TestMain. RENDEZVOUS_BIN, when set, names a binary to test
// instead (a release build, say).
func buildNode(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("RENDEZVOUS_BIN"); bin != "" {
		t.Logf("testing RENDEZVOUS_BIN=%s", bin)
		return bin
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "rendezvous-interop-bin-"); buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		// The node runs under the race detector too when the tests do.
		buildErr = nodeproc.Build(ctx, "..", filepath.Join(buildDir, "rendezvous"), raceEnabled)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "rendezvous")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// needsInstall reports whether node_modules is missing or older than
// package-lock.json. npm writes node_modules/.package-lock.json on every
// install, so its mtime is when the tree was last installed.
func needsInstall(project string) (bool, string) {
	lock, err := os.Stat(filepath.Join(project, "package-lock.json"))
	if err != nil {
		return true, "no package-lock.json" // npm ci then fails with a clear message
	}
	installed, err := os.Stat(filepath.Join(project, "node_modules", ".package-lock.json"))
	if err != nil {
		return true, "node_modules missing"
	}
	if installed.ModTime().Before(lock.ModTime()) {
		return true, "package-lock.json is newer than node_modules"
	}
	return false, ""
}

// hasGlobalWebSocket: Node 22+ has a global WebSocket; Node 20 needs
// --experimental-websocket (a polyfill in each suite enforces it).
func hasGlobalWebSocket(t *testing.T, nodeBin string) bool {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := exec.CommandContext(ctx, nodeBin, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run()
	return err == nil
}

// run executes name args in dir with a timeout, streaming its output into
// the test log line by line, and fails the test when it does not exit 0.
func run(t *testing.T, dir string, timeout time.Duration, env []string, name string, args ...string) {
	t.Helper()
	t.Logf("%s$ %s %s", filepath.Base(dir), name, strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	killProcessGroupOnCancel(cmd)
	cmd.WaitDelay = 10 * time.Second

	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr) // an overlong line must not block the child
	}()
	err := cmd.Run()
	_ = pw.Close()
	<-logged
	if err != nil {
		if ctx.Err() != nil {
			t.Fatalf("%s %s in %s: timed out after %s", name, strings.Join(args, " "), dir, timeout)
		}
		t.Fatalf("%s %s in %s: %v", name, strings.Join(args, " "), dir, err)
	}
}
