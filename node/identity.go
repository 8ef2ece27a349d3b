package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// maxKeyFileSize bounds what we read: a marshalled Ed25519 key is 68 bytes.
const maxKeyFileSize = 4096

// ErrKeyMissing is returned when the key file does not exist and creating one
// is not allowed.
var ErrKeyMissing = errors.New("identity key file does not exist")

// LoadOrCreateKey loads the node's private key from path. When the file does
// not exist it creates a new Ed25519 key there (mode 0600, written atomically),
// unless requireExisting is set: then a lost volume is an error rather than a
// silently new identity. A key file readable by group or others is refused.
func LoadOrCreateKey(path string, requireExisting bool) (key crypto.PrivKey, created bool, err error) {
	key, err = LoadKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, ErrKeyMissing) || requireExisting {
		return nil, false, err
	}
	key, _, err = crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate identity key: %w", err)
	}
	if err := WriteKey(path, key); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// LoadKey reads a key written by WriteKey.
func LoadKey(path string) (crypto.PrivKey, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrKeyMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("identity key %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("identity key %s: permissions %#o allow group or others to read it; run chmod 600 %s", path, perm, path)
	}
	if st.Size() > maxKeyFileSize {
		return nil, fmt.Errorf("identity key %s: %d bytes is too large to be a key", path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("identity key %s: %w", path, err)
	}
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("identity key %s: not a libp2p private key (corrupt file?): %w", path, err)
	}
	return key, nil
}

// WriteKey writes key to path with mode 0600 through a temporary file and a
// rename, so a crash never leaves a half-written identity. It refuses to
// replace an existing file.
func WriteKey(path string, key crypto.PrivKey) error {
	b, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal identity key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("identity key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".identity-*.tmp")
	if err != nil {
		return fmt.Errorf("identity key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("identity key: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("identity key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("identity key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("identity key: %w", err)
	}
	// Link instead of rename: it fails if path exists, so two nodes started
	// at once cannot overwrite each other's fresh key.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("identity key %s already exists", path)
		}
		// Some filesystems have no hard links; fall back to a rename.
		if _, statErr := os.Lstat(path); statErr == nil {
			return fmt.Errorf("identity key %s already exists", path)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("identity key: %w", err)
		}
	}
	return nil
}
