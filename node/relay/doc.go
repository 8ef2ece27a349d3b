// Package relay runs go-libp2p's circuit relay v2 for the node with what a
// public relay needs on top: the configured limits (no cap written as a cap
// equal to the total), an ACL for reservations, a gate that holds circuits
// to max_active_circuits with a status instead of filling the relay's
// resource scope, and the set of peers holding reservations, protected from
// the connection manager and counted for metrics and the admin API. The node
// only wires it in.
package relay
