//go:build unix

package capacity

import "syscall"

// RaiseFileLimit lifts the soft open-file limit to the hard one (Go does so
// at start on Linux already; other launchers may not) and returns the limit
// the process now has, 0 when unknown.
func RaiseFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		raised := l
		raised.Cur = raised.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			l = raised
		}
	}
	return int(min(l.Cur, 1<<30))
}
