package transports

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

type divertedKey struct{}

// DivertUpgrades makes WebSocket upgrades to paths under prefix reach the
// node's HTTP handler instead of the libp2p WebSocket listener, which takes
// every upgrade on the port whatever its path. It is applied to the
// listener's http.Server from ws.WithHTTPServerConfig.
//
// The transport sets the server's Handler after that hook, so the handler
// is wrapped when the server reports its first connection (ConnState
// StateNew runs on the accept loop before the connection is served, and
// after the transport's last write of Handler). The wrapper hands such an
// upgrade to the transport without its Upgrade header: the transport then
// treats it as a plain request, disarms its handshake timer and passes it
// to the HTTP handler, where Undivert restores the header.
func DivertUpgrades(s *http.Server, prefix string) {
	var once sync.Once
	prev := s.ConnState
	s.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			once.Do(func() { s.Handler = divert(prefix, s.Handler) })
		}
		if prev != nil {
			prev(c, st)
		}
	}
}

func divert(prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) && websocket.IsWebSocketUpgrade(r) {
			r2 := r.Clone(context.WithValue(r.Context(), divertedKey{}, r.Header.Values("Upgrade")))
			r2.Header.Del("Upgrade")
			next.ServeHTTP(w, r2)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Undivert restores the Upgrade header DivertUpgrades took off r.
func Undivert(r *http.Request) *http.Request {
	if v, ok := r.Context().Value(divertedKey{}).([]string); ok {
		r.Header.Del("Upgrade")
		for _, x := range v {
			r.Header.Add("Upgrade", x)
		}
	}
	return r
}
