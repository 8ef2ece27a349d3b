//go:build unix

package interop

import (
	"os/exec"
	"syscall"
)

// killProcessGroupOnCancel puts cmd in its own process group and kills the
// whole group on timeout: `node --test` runs each file in a child process,
// which in turn starts the node binary.
func killProcessGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
