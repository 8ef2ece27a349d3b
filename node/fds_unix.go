//go:build unix

package node

import "syscall"

// autoFDs leaves a tenth of the process's file descriptor limit for files,
// logs and the HTTP listeners. Go raises the soft limit to the hard one at
// start, so Cur is what the process really has.
func autoFDs() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur == 0 {
		return 4096
	}
	return int(min(l.Cur, 1<<24) * 9 / 10)
}
