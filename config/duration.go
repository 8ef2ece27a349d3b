package config

import "github.com/ws-star/rendezvous/internal/setting"

// Duration is a time.Duration written in JSON as a Go duration string ("2m",
// "1h30m"); it is setting.Duration, shared with the packages' Limits.
type Duration = setting.Duration
