//go:build !linux

package nodeproc

import "os/exec"

// killWithParent is Linux only; elsewhere a node may outlive a killed parent.
func killWithParent(*exec.Cmd) {}
