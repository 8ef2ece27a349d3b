package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/node/deny"
)

// The deny list endpoints of the admin API.

func (n *Node) adminDenyList(w http.ResponseWriter, _ *http.Request) {
	entries := n.deny.Entries()
	if entries == nil {
		entries = []deny.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "file": n.cfg.Deny.File})
}

// denyRequest is the body of POST /v1/deny: exactly one of the two.
type denyRequest struct {
	Peer   string `json:"peer"`
	Subnet string `json:"subnet"`
}

func (n *Node) adminDeny(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req denyRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxAdminBody))
			return
		}
		adminError(w, http.StatusBadRequest, `body must be {"peer": "<peer ID>"} or {"subnet": "<CIDR>"}: `+err.Error())
		return
	}
	if dec.More() {
		adminError(w, http.StatusBadRequest, "body must hold one JSON object")
		return
	}
	var entry, kind string
	switch {
	case req.Peer != "" && req.Subnet == "":
		p, err := config.ParsePeerID(req.Peer)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("peer %q: %v", req.Peer, err))
			return
		}
		entry, kind = p.String(), deny.KindPeer
	case req.Subnet != "" && req.Peer == "":
		pfx, err := config.ParseSubnet(req.Subnet)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("subnet %q: %v", req.Subnet, err))
			return
		}
		entry, kind = pfx.String(), deny.KindSubnet
	default:
		adminError(w, http.StatusBadRequest, `body must name exactly one of "peer" and "subnet"`)
		return
	}
	added, closed, err := n.deny.Add(entry, kind)
	if err != nil {
		adminError(w, http.StatusInternalServerError, "deny: "+err.Error())
		return
	}
	if n.Legacy != nil {
		closed += n.Legacy.CloseDenied()
	}
	code := http.StatusOK
	if added {
		code = http.StatusCreated
	}
	writeJSON(w, code, map[string]any{
		"entry": entry, "kind": kind, "added": added, "closed": closed,
		// Without deny.file the ban lasts until the node restarts.
		"persisted": n.deny.Persistent(),
	})
}

func (n *Node) adminUndeny(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("entry")
	entry, kind, err := deny.ParseEntry(raw)
	if err != nil {
		adminError(w, http.StatusBadRequest, fmt.Sprintf("%q: %v", raw, err))
		return
	}
	switch err := n.deny.Remove(entry, kind); {
	case errors.Is(err, deny.ErrNotFound):
		adminError(w, http.StatusNotFound, fmt.Sprintf("%s: %v", entry, err))
	case errors.Is(err, deny.ErrConfigured):
		adminError(w, http.StatusConflict, fmt.Sprintf("%s: %v", entry, err))
	case err != nil:
		adminError(w, http.StatusInternalServerError, "undeny: "+err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"entry": entry, "kind": kind, "removed": true})
	}
}
