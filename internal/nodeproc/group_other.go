//go:build !unix

package nodeproc

import (
	"os"
	"os/exec"
)

func ownGroup(*exec.Cmd) {}

// terminate kills: there is no SIGTERM to send.
func terminate(p *os.Process) error { return p.Kill() }
