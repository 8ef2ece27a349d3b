//go:build unix

package nodeproc

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// script writes an executable shell script standing in for the node binary.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func testID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestStartReadsThePrintedAddressAndStopEndsTheProcessWithSIGTERM(t *testing.T) {
	id := testID(t)
	bin := script(t, "echo starting >&2\necho /ip4/127.0.0.1/tcp/4001/ws/p2p/"+id.String()+"\nexec sleep 60\n")
	p, err := Start(t.Context(), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if p.Info.ID != id {
		t.Errorf("peer ID %s, want %s", p.Info.ID, id)
	}
	if hp, err := p.HTTPAddr(); err != nil || hp != "127.0.0.1:4001" {
		t.Errorf("HTTP address %q, %v", hp, err)
	}
	if err := p.Stop(5 * time.Second); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("stop: %v, want the exit by SIGTERM", err)
	}
	if !strings.Contains(p.Output(), "starting") {
		t.Errorf("output %q lacks the node's log", p.Output())
	}
}

func TestANodeThatExitsAtStartFailsWithItsOutput(t *testing.T) {
	bin := script(t, "echo 'config: bad port' >&2\nexit 1\n")
	_, err := Start(t.Context(), Options{Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "config: bad port") {
		t.Fatalf("err = %v, want one with the node's output", err)
	}
}

func TestWaitReadyGivesUpWhenTheNodeExits(t *testing.T) {
	id := testID(t)
	bin := script(t, "echo /ip4/127.0.0.1/tcp/1/ws/p2p/"+id.String()+"\nsleep 0.2\n")
	p, err := Start(t.Context(), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := p.WaitReady(t.Context(), time.Minute); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("err = %v, want the node's exit", err)
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("took %s to notice the exit", took)
	}
}

func TestANonLoopbackAddressIsNotPolled(t *testing.T) {
	id := testID(t)
	bin := script(t, "echo /ip4/192.0.2.1/tcp/4001/ws/p2p/"+id.String()+"\nexec sleep 60\n")
	p, err := Start(t.Context(), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.WaitReady(t.Context(), time.Second); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want a refusal of the address", err)
	}
}
