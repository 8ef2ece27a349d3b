// Package capacity sizes the node to its machine: what the machine offers
// (open-file limit, memory, a container's memory limit), the go-libp2p
// resource manager built from the sized configuration with its gauges and
// the naming of its refusals by setting, and the Go memory limit and GC
// tuning derived from it. The node builds its host with it; the command line
// reads the machine through it.
package capacity
