package nodeproc

import (
	"context"
	"fmt"
	"os/exec"
)

// Build compiles ./cmd/rendezvous of the module in moduleDir into out, with
// the race detector when race is set (tests built with -race run the node
// under it too).
func Build(ctx context.Context, moduleDir, out string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/rendezvous")...)
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/rendezvous: %w\n%s", err, b)
	}
	return nil
}
