package node

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// The admin API (docs/admin.md) answers operators on its own listener: the
// namespaces and their members, one peer's connections and memberships,
// disconnects and the deny list. Everything is JSON, including errors.

const (
	// maxAdminBody bounds a request body: the largest is a deny entry.
	maxAdminBody = 4 << 10
	// minAdminToken is the shortest token accepted: a guessable token on a
	// reachable port would hand out bans and disconnects.
	minAdminToken = 16
	// defaultMemberLimit and maxMemberLimit bound the members one namespace
	// query lists (?limit=).
	defaultMemberLimit = 1000
	maxMemberLimit     = 100000
)

// startAdmin serves the admin API when admin.addr is set.
func (n *Node) startAdmin() error {
	if n.cfg.Admin.Addr == "" {
		return nil
	}
	var token []byte
	if f := n.cfg.Admin.TokenFile; f != "" {
		t, err := readAdminToken(f)
		if err != nil {
			return err
		}
		token = t
	}
	return n.serve("admin", n.cfg.AdminListenAddr(), n.adminHandler(token))
}

func readAdminToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin.token_file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < minAdminToken {
		return nil, fmt.Errorf("admin.token_file %s: the token must be at least %d characters", path, minAdminToken)
	}
	if len(t) > maxAdminBody {
		return nil, fmt.Errorf("admin.token_file %s: the token must be at most %d bytes", path, maxAdminBody)
	}
	return []byte(t), nil
}

// adminHandler routes the API; with a token, every request must carry it.
func (n *Node) adminHandler(token []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/namespaces", n.adminNamespaces)
	mux.HandleFunc("GET /v1/namespaces/{ns}", n.adminNamespace)
	mux.HandleFunc("GET /v1/peers/{id}", n.adminPeer)
	mux.HandleFunc("POST /v1/peers/{id}/disconnect", n.adminDisconnect)
	mux.HandleFunc("GET /v1/deny", n.adminDenyList)
	mux.HandleFunc("POST /v1/deny", n.adminDeny)
	mux.HandleFunc("DELETE /v1/deny/{entry...}", n.adminUndeny)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see docs/admin.md)")
	})
	var h http.Handler = mux
	if token != nil {
		h = requireToken(token, mux)
	}
	return n.recoverHTTP(h)
}

// requireToken compares digests, so the comparison takes the same time
// whatever the length and content of what was sent.
func requireToken(token []byte, next http.Handler) http.Handler {
	want := sha256.Sum256(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rendezvous admin"`)
			adminError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token from admin.token_file>)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func adminError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
