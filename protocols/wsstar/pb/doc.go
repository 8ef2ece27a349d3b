// Package pb holds the wire messages of /ws-star/1.0.0.
package pb

//go:generate protoc --go_out=. --go_opt=paths=source_relative wsstar.proto
