package transports

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// CertReloader serves a certificate from PEM files and picks up replaced
// files (a renewal) without a restart. Files are checked at most once per
// checkEvery, on a handshake; a broken new pair keeps the old one in service.
type CertReloader struct {
	certFile, keyFile string
	checkEvery        time.Duration
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile, checkEvery: time.Second, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *CertReloader) load() error {
	cm, km, err := r.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.certMod, r.keyMod = &cert, cm, km
	return nil
}

func (r *CertReloader) modTimes() (cert, key time.Time, err error) {
	cs, err := os.Stat(r.certFile)
	if err != nil {
		return cert, key, fmt.Errorf("tls: %w", err)
	}
	ks, err := os.Stat(r.keyFile)
	if err != nil {
		return cert, key, fmt.Errorf("tls: %w", err)
	}
	return cs.ModTime(), ks.ModTime(), nil
}

// GetCertificate is a tls.Config callback.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastCheck) >= r.checkEvery {
		r.lastCheck = now
		cm, km, err := r.modTimes()
		if err == nil && (!cm.Equal(r.certMod) || !km.Equal(r.keyMod)) {
			if err := r.load(); err != nil {
				r.log.Warn("certificate files changed but could not be loaded; keeping the old certificate", "err", err)
			} else {
				r.log.Info("certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}

func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
}

// ByServerName serves suffix's names (the AutoTLS certificate's
// *.<peer id>.<forge domain>) from forge and every other name from own, so
// one secure WebSocket listener serves both certificates. A nil own leaves
// forge alone.
func ByServerName(own, forge *tls.Config, suffix string) *tls.Config {
	if own == nil {
		return forge
	}
	suffix = "." + strings.ToLower(suffix)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if strings.HasSuffix(strings.ToLower(hello.ServerName), suffix) {
				return forge.GetCertificate(hello)
			}
			return own.GetCertificate(hello)
		},
	}
}
