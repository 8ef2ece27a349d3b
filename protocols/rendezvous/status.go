package rendezvous

import (
	"errors"
	"fmt"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
	"github.com/ws-star/rendezvous/registry"
)

// Status is a response status of the protocol.
type Status = pb.Message_ResponseStatus

// Response statuses, re-exported so that callers need not import pb.
const (
	StatusOK                      = pb.Message_OK
	StatusInvalidNamespace        = pb.Message_E_INVALID_NAMESPACE
	StatusInvalidSignedPeerRecord = pb.Message_E_INVALID_SIGNED_PEER_RECORD
	StatusInvalidTTL              = pb.Message_E_INVALID_TTL
	StatusInvalidCookie           = pb.Message_E_INVALID_COOKIE
	StatusNotAuthorized           = pb.Message_E_NOT_AUTHORIZED
	StatusInternalError           = pb.Message_E_INTERNAL_ERROR
	StatusUnavailable             = pb.Message_E_UNAVAILABLE
)

// StatusError is a non-OK response from a rendezvous point.
type StatusError struct {
	Status Status
	Text   string
}

func (e *StatusError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("rendezvous: %s", e.Status)
	}
	return fmt.Sprintf("rendezvous: %s: %s", e.Status, e.Text)
}

// statusErr is a server-side failure with the status it is answered with.
type statusErr struct {
	status Status
	text   string
}

func (e *statusErr) Error() string { return e.text }

func fail(s Status, format string, args ...any) *statusErr {
	return &statusErr{status: s, text: fmt.Sprintf(format, args...)}
}

// registryStatus maps a registry.Register error to a status.
//
// ErrTooManyForPeer answers E_NOT_AUTHORIZED: the spec has no quota status,
// and the refusal is a policy about this peer that waiting will not lift
// (unlike E_UNAVAILABLE, which we keep for node-wide capacity and rate
// limits, where a retry later can succeed).
func registryStatus(err error) *statusErr {
	switch {
	case errors.Is(err, registry.ErrInvalidNamespace):
		return fail(StatusInvalidNamespace, "invalid namespace")
	case errors.Is(err, registry.ErrTooManyForPeer):
		return fail(StatusNotAuthorized, "%s", limits.Text("too many registrations for this peer", limits.RegistrationsPerPeer))
	case errors.Is(err, registry.ErrFull):
		return fail(StatusUnavailable, "%s", limits.Text("registration limit reached", limits.Registrations))
	case errors.Is(err, registry.ErrTooManyNamespaces):
		return fail(StatusUnavailable, "%s", limits.Text("namespace limit reached", limits.Namespaces))
	case errors.Is(err, registry.ErrNamespaceNotAllowed):
		return fail(StatusNotAuthorized, "%s", limits.Text("namespace not allowed on this node", limits.NamespacePrefixes))
	case errors.Is(err, registry.ErrNamespaceFull):
		return fail(StatusUnavailable, "%s", limits.Text("namespace full", limits.NamespaceMembers))
	case errors.Is(err, registry.ErrClosed):
		return fail(StatusUnavailable, "shutting down")
	case errors.Is(err, registry.ErrTooManyAddrs):
		return fail(StatusInvalidSignedPeerRecord, "too many addresses")
	case errors.Is(err, registry.ErrRecordTooLarge):
		return fail(StatusInvalidSignedPeerRecord, "signed peer record too large")
	case errors.Is(err, registry.ErrNoAddrs):
		return fail(StatusInvalidSignedPeerRecord, "no addresses")
	}
	return fail(StatusInternalError, "internal error")
}
