// Package pb holds the announcement message of pubsub-peer-discovery.
package pb

//go:generate protoc --go_out=. --go_opt=paths=source_relative peer.proto
