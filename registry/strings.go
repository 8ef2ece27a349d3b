package registry

// String forms are the label values used in logs and metrics.

func (s Source) String() string {
	switch s {
	case SourceRendezvous:
		return "rendezvous"
	case SourceLive:
		return "live"
	}
	return "unknown"
}

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Updated:
		return "updated"
	case Left:
		return "left"
	}
	return "unknown"
}

func (r LeftReason) String() string {
	switch r {
	case ReasonUnregistered:
		return "unregistered"
	case ReasonDisconnected:
		return "disconnected"
	case ReasonExpired:
		return "expired"
	}
	return "none"
}
