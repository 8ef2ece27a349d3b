package nodeproc

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel SIGKILL the node when this process dies,
// even by SIGKILL, where no cleanup of ours runs. Call after ownGroup.
func killWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
