package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentityIsStableAcrossRestarts(t *testing.T) {
	c := testConfig(t)
	first, err := New(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	id := first.Host.ID()
	_ = first.Close(t.Context())
	st, err := os.Stat(c.Identity.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	second := startNode(t, c)
	if second.Host.ID() != id {
		t.Fatalf("peer ID changed across restart: %s then %s", id, second.Host.ID())
	}
}

func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	if _, _, err := LoadOrCreateKey(path, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateKey(path, false)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("permissive key file: got %v, want an error telling to chmod 600", err)
	}
}

func TestCorruptKeyFileGivesClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	if err := os.WriteFile(path, []byte("not a key at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateKey(path, false)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt key: got %v, want an error naming the file as corrupt", err)
	}
}

func TestMissingKeyIsFatalWhenRequired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	_, _, err := LoadOrCreateKey(path, true)
	if !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("got %v, want ErrKeyMissing", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a key was created although one was required to exist")
	}
}
