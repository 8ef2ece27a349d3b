// Command rendezvous runs a ws-star rendezvous node: a libp2p relay and
// rendezvous point for browser peers on WebSockets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/node"
	"github.com/ws-star/rendezvous/node/capacity"
)

// exitUsage is returned for bad flags and bad configuration; exitFailure for
// a node that could not start or stopped with an error.
const (
	exitUsage   = 2
	exitFailure = 1
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// cliError carries the exit code with the message printed on one line.
type cliError struct {
	code int
	err  error
}

func (e *cliError) Error() string { return e.err.Error() }

func usageErr(format string, a ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// run executes one command line; ctx ends a running node.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runNode(ctx, args, stdout, stderr, getenv)
	case "init":
		err = runInit(args, stdout, stderr, getenv)
	case "id":
		err = runID(args, stdout, stderr, getenv)
	case "health":
		err = runHealth(args, stdout, stderr, getenv)
	case "admin":
		err = runAdmin(args, stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "rendezvous", node.Version)
	case "help":
		printUsage(stdout, newFlags(io.Discard))
	default:
		err = usageErr("unknown command %q (want run, init, id, health, admin, version or help)", cmd)
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "rendezvous:", oneLine(err))
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitFailure
}

// oneLine keeps an error on a single line, so a log collector shows all of
// it in one record.
func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), ":\n", ": ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// parseConfig parses the flags in args and loads the configuration they name.
func parseConfig(args []string, helpOut io.Writer, getenv func(string) string) (config.Config, error) {
	f := newFlags(helpOut)
	if err := f.parse(args); err != nil {
		return config.Config{}, err
	}
	return loadConfig(f, getenv)
}

// loadConfig applies defaults < file < environment < flags and validates.
func loadConfig(f *cliFlags, getenv func(string) string) (config.Config, error) {
	cfg := config.Default()
	path := f.configPath
	if path == "" {
		path = getenv("RENDEZVOUS_CONFIG")
	}
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return cfg, &cliError{code: exitUsage, err: err}
		}
	}
	env, err := config.FromEnv(getenv)
	if err != nil {
		return cfg, &cliError{code: exitUsage, err: err}
	}
	if err := cfg.Apply(env.Merge(f.overrides)); err != nil {
		return cfg, &cliError{code: exitUsage, err: err}
	}
	// Sized first, so that a limit set in the file is checked against the
	// ones derived from capacity.peers on this machine.
	if err := cfg.Sized(capacity.Machine()).Validate(); err != nil {
		return cfg, &cliError{code: exitUsage, err: err}
	}
	return cfg, nil
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseConfig(args, stdout, getenv)
	if err != nil {
		return err
	}
	log, err := node.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return &cliError{code: exitUsage, err: err}
	}
	capacity.TuneGC(cfg.Sized(capacity.Machine()), getenv, log)
	// Scripts read the node's addresses from stdout, one a line; the
	// AutoTLS ones follow when the certificate is there.
	var out sync.Mutex
	printAddrs := func(addrs []ma.Multiaddr) {
		out.Lock()
		defer out.Unlock()
		for _, a := range addrs {
			fmt.Fprintln(stdout, a)
		}
	}
	n, err := node.New(ctx, cfg, node.WithLogger(log), node.WithAutoTLSAddrs(printAddrs))
	if err != nil {
		return err
	}
	printAddrs(n.Addrs())
	<-ctx.Done()
	signal.Reset(os.Interrupt, syscall.SIGTERM) // a second signal kills at once
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.D())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
	defer cancel()
	if err := n.Close(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
