package httpauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tt := range []struct {
		name   string
		cfg    Config
		path   string
		header string
		want   int
	}{
		{"no token: open", Config{}, "/fibonacci", "", http.StatusTeapot},
		{"task without the token", Config{Token: "t0k"}, "/fibonacci", "", http.StatusUnauthorized},
		{"task with a wrong token", Config{Token: "t0k"}, "/fibonacci", "Bearer t0K", http.StatusUnauthorized},
		{"task with another scheme", Config{Token: "t0k"}, "/fibonacci", "Basic t0k", http.StatusUnauthorized},
		{"task with the token", Config{Token: "t0k"}, "/fibonacci", "Bearer t0k", http.StatusTeapot},
		{"scheme in any case", Config{Token: "t0k"}, "/fibonacci", "bearer t0k", http.StatusTeapot},
		{"API without the token", Config{Token: "t0k"}, "/api/status", "", http.StatusUnauthorized},
		{"targets without the token", Config{Token: "t0k"}, "/sd/targets", "", http.StatusUnauthorized},
		{"the page's shell", Config{Token: "t0k"}, "/", "", http.StatusTeapot},
		{"the page's assets", Config{Token: "t0k"}, "/static/app.js", "", http.StatusTeapot},
		{"/ok stays open", Config{Token: "t0k"}, "/ok", "", http.StatusTeapot},
		{"/metrics stays open", Config{Token: "t0k"}, "/metrics", "", http.StatusTeapot},
		{"/metrics when asked", Config{Token: "t0k", TokenEverywhere: true}, "/metrics", "", http.StatusUnauthorized},
		{"/ok when asked, with the token", Config{Token: "t0k", TokenEverywhere: true}, "/ok", "Bearer t0k", http.StatusTeapot},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			tt.cfg.Handler(ok).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("%s %q: %d, want %d", tt.path, tt.header, w.Code, tt.want)
			}
			if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestListenTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	if _, err := (Config{CertFile: cert}).Listen(nil); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	if _, err := (Config{CertFile: key, KeyFile: key}).Listen(nil); err == nil {
		t.Fatal("a bad certificate file was accepted")
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Config{CertFile: cert, KeyFile: key}.Listen(raw)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + raw.Addr().String() + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if plain, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + raw.Addr().String() + "/ok"); err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
