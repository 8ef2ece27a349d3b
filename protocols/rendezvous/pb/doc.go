// Package pb holds the /rendezvous/1.0.0 protobuf messages.
package pb

// The proto path is repository-relative so that the registered file name
// cannot collide with another rendezvous.proto linked into the same binary.
//go:generate protoc --proto_path=../../.. --go_out=../../.. --go_opt=paths=source_relative protocols/rendezvous/pb/rendezvous.proto
