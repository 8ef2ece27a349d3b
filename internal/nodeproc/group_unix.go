//go:build unix

package nodeproc

import (
	"os"
	"os/exec"
	"syscall"
)

// ownGroup puts the node in its own process group: a signal to this
// process's terminal does not race the orderly stop.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
