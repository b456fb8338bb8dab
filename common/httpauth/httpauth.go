// Package httpauth is the optional protection of the master's HTTP API and
// the monitor's status page: TLS from a certificate and key, and a bearer
// token. Both are off by default (the original design trusts the LAN).
//
// With a token, every request needs "Authorization: Bearer TOKEN" except
// the page's shell (GET / and /static/..., which hold no data; the page
// asks for the token itself) and, unless TokenEverywhere is set, /ok and
// /metrics, so liveness probes and Prometheus keep working unchanged.
package httpauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Config says how an HTTP server is protected.
type Config struct {
	// CertFile and KeyFile, both set, serve HTTPS (PEM files).
	CertFile, KeyFile string
	// Token, when set, is required as a bearer token.
	Token string
	// TokenEverywhere also requires the token on /ok and /metrics.
	TokenEverywhere bool
}

// Flags registers -tls-cert, -tls-key, -api-token and -api-token-all on
// fs; the token may instead come from $LB_API_TOKEN (Resolve), which keeps
// it out of process lists.
func Flags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.CertFile, "tls-cert", c.CertFile, "PEM certificate: serve HTTPS (with -tls-key)")
	fs.StringVar(&c.KeyFile, "tls-key", c.KeyFile, "PEM private key of -tls-cert")
	fs.StringVar(&c.Token, "api-token", c.Token, "require this bearer token on the API and task requests; default $LB_API_TOKEN, none if unset")
	fs.BoolVar(&c.TokenEverywhere, "api-token-all", c.TokenEverywhere, "require -api-token on /ok and /metrics too")
}

// Resolve fills Token from $LB_API_TOKEN when the flag was not given.
func (c *Config) Resolve() {
	if c.Token == "" {
		c.Token = os.Getenv("LB_API_TOKEN")
	}
}

// TLS reports whether HTTPS is served.
func (c Config) TLS() bool { return c.CertFile != "" }

// Listen wraps ln in TLS when a certificate is configured, loading it now so
// that a bad file fails at start-up.
func (c Config) Listen(ln net.Listener) (net.Listener, error) {
	switch {
	case c.CertFile == "" && c.KeyFile == "":
		return ln, nil
	case c.CertFile == "" || c.KeyFile == "":
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// Handler wraps h with the token check; without a token it returns h.
func (c Config) Handler(h http.Handler) http.Handler {
	if c.Token == "" {
		return h
	}
	want := sha256.Sum256([]byte(c.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.open(r.URL.Path) || validBearer(r.Header.Get("Authorization"), want) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="loadbalancer"`)
		http.Error(w, "this server requires its API token: send Authorization: Bearer TOKEN (-api-token)", http.StatusUnauthorized)
	})
}

func (c Config) open(path string) bool {
	switch {
	case path == "/", strings.HasPrefix(path, "/static/"):
		return true
	case path == "/ok", path == "/metrics":
		return !c.TokenEverywhere
	}
	return false
}

// validBearer compares in constant time (over hashes, so the token's
// length does not show either).
func validBearer(header string, want [sha256.Size]byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
