package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxFileSize bounds a configuration file; a real one is a few KiB.
const MaxFileSize = 1 << 20

// Load reads the JSON file at path over Default(). Keys the file leaves out
// keep their defaults; unknown keys, wrong types and trailing data are errors
// that name the file, the JSON path and the line:column.
//
// Load does not validate: the caller applies the environment and flags first
// (see Overrides) and then calls Validate.
func Load(path string) (Config, error) {
	data, err := readBounded(path, MaxFileSize)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c := Default()
	if err := decode(data, &c); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.File = path
		}
		return Config{}, err
	}
	return c, nil
}

// WriteFile writes the complete configuration to path as indented JSON, so an
// operator starts from a file that shows every setting. It refuses to replace
// an existing file, and the file appears complete or not at all.
func (c Config) WriteFile(path string) error {
	data, err := json.MarshalIndent(c.withEmptyLists(), "", "  ")
	if err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	data = append(data, '\n')
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("config: %s: %w", path, fs.ErrExist)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op once linked or renamed away
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("config: write %s: %w", tmpName, err)
	}
	// A hard link publishes the file atomically and, unlike rename, fails if
	// the name was taken since the check above.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("config: %s: %w", path, fs.ErrExist)
		}
		// Some file systems have no hard links; rename is still atomic.
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// withEmptyLists writes absent lists as [] rather than null, which reads
// better and loads back to the same value as the defaults.
func (c Config) withEmptyLists() Config {
	for _, l := range []*[]string{
		&c.Listen, &c.Announce, &c.NoAnnounce,
		&c.Relay.ACL.AllowPeers, &c.Relay.ACL.AllowSubnets, &c.Resources.TrustedSubnets,
		&c.Cluster.Embedded.Routes, &c.ProxyProtocol.From, &c.Namespaces.AllowPrefixes,
		&c.Deny.Peers, &c.Deny.Subnets,
	} {
		if *l == nil {
			*l = []string{}
		}
	}
	if c.Namespaces.Overrides == nil {
		c.Namespaces.Overrides = []NamespaceOverride{}
	}
	return c
}

// readBounded reads a whole file of at most max bytes; errors name the path.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return data, nil
}
