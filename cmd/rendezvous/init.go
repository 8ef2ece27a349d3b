package main

import (
	"fmt"
	"io"

	"github.com/ws-star/rendezvous/node"
)

// runInit writes a complete default configuration and an identity key, so an
// operator starts from a file that lists every setting.
func runInit(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags(stdout)
	if err := f.parse(args); err != nil {
		return err
	}
	path := f.configPath
	if path == "" {
		path = "rendezvous.json"
	}
	f.configPath = "" // the file is the output, not an input
	cfg, err := loadConfig(f, getenv)
	if err != nil {
		return err
	}
	if err := cfg.WriteFile(path); err != nil {
		return err
	}
	key, created, err := node.LoadOrCreateKey(cfg.Identity.KeyFile, false)
	if err != nil {
		return err
	}
	id, err := peerIDOf(key)
	if err != nil {
		return err
	}
	verb := "kept existing"
	if created {
		verb = "created"
	}
	fmt.Fprintf(stdout, "wrote %s\n%s identity %s (peer ID %s)\n", path, verb, cfg.Identity.KeyFile, id)
	return nil
}
