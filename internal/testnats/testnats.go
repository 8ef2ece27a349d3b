// Package testnats runs a standalone NATS server with JetStream on loopback
// for tests: the external NATS an operator would run, restartable on the
// same port and store.
package testnats

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server started by Start and stopped when the test ends.
type Server struct {
	tb    testing.TB
	port  int
	store string
	srv   *server.Server
}

// Start starts a server on a free loopback port with a fresh store.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, port: FreePorts(tb, 1)[0], store: tb.TempDir()}
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on the same port and store after Stop.
func (s *Server) Restart() {
	s.tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.store, NoSigs: true, NoLog: true,
	})
	if err != nil {
		s.tb.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.tb.Fatal("nats server did not start")
	}
	s.srv = srv
}

// Stop shuts the server down; it is idempotent.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// URL is the client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// FreePorts picks n distinct free loopback TCP ports.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return out
}
