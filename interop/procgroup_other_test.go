//go:build !unix

package interop

import "os/exec"

func killProcessGroupOnCancel(*exec.Cmd) {}
