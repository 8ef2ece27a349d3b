//go:build !unix

package capacity

// RaiseFileLimit reports no limit where the platform has no rlimit.
func RaiseFileLimit() int { return 0 }
