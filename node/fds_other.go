//go:build !unix

package node

func autoFDs() int { return 4096 }
