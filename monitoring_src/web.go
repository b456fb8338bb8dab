package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// The status server on Options.StatusAddr: the page (web/index.html,
// web/app.js, web/style.css, all in the binary; it loads nothing from
// elsewhere and its Content-Security-Policy says so), GET /api/status and
// GET /ok. New binds it, Run serves it until its context ends.

//go:embed web/index.html web/app.js web/style.css
var webFiles embed.FS

// pageCSP allows the page its own script, style and API, and nothing else.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Bounds of the status server: its clients are browsers and scripts asking
// for small answers.
const (
	statusReadHeaderTimeout = 5 * time.Second
	statusWriteTimeout      = 10 * time.Second
	statusIdleTimeout       = 2 * time.Minute
	statusShutdownWait      = 2 * time.Second
)

// asset is a file of the page, with its ETag.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// page and assets never change while the binary runs; served with no-cache
// and an ETag, a browser revalidates them and never runs a new page with
// an old script.
var (
	page   = mustAsset("web/index.html", "text/html; charset=utf-8")
	assets = map[string]asset{
		"app.js":    mustAsset("web/app.js", "text/javascript; charset=utf-8"),
		"style.css": mustAsset("web/style.css", "text/css; charset=utf-8"),
	}
)

func mustAsset(name, contentType string) asset {
	b, err := webFiles.ReadFile(name)
	if err != nil {
		panic(err) // the embed directive above names the file: cannot happen
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// listenStatus binds the status server, or does nothing when
// Options.StatusAddr is empty.
func (mon *Monitor) listenStatus() error {
	if mon.opts.StatusAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", mon.opts.StatusAddr)
	if err != nil {
		return fmt.Errorf("opening status listener %s: %w", mon.opts.StatusAddr, err)
	}
	mon.statusLn = ln
	mon.statusSrv = &http.Server{
		Handler:           mon.statusRoutes(),
		ReadHeaderTimeout: statusReadHeaderTimeout,
		ReadTimeout:       2 * statusReadHeaderTimeout,
		WriteTimeout:      statusWriteTimeout,
		IdleTimeout:       statusIdleTimeout,
	}
	return nil
}

// StatusAddr is the bound address of the status server, nil when there is
// none.
func (mon *Monitor) StatusAddr() net.Addr {
	if mon.statusLn == nil {
		return nil
	}
	return mon.statusLn.Addr()
}

// serveStatus serves the status server on its own goroutine; the returned
// stop shuts it down (requests in flight get statusShutdownWait) and waits
// for that goroutine.
func (mon *Monitor) serveStatus() (stop func()) {
	if mon.statusSrv == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mon.statusSrv.Serve(mon.statusLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			mon.opts.Log.Error("status server stopped", "addr", mon.StatusAddr(), "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), statusShutdownWait)
		defer cancel()
		if err := mon.statusSrv.Shutdown(ctx); err != nil {
			_ = mon.statusSrv.Close()
		}
		<-done
	}
}

func (mon *Monitor) statusRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", handlePage)
	mux.HandleFunc("GET /static/{asset}", handleAsset)
	mux.HandleFunc("GET /api/status", mon.handleStatus)
	mux.HandleFunc("GET /api/", handleAPINotFound)
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

func (mon *Monitor) handleStatus(w http.ResponseWriter, _ *http.Request) {
	respondAPI(w, http.StatusOK, mon.state.status(time.Now()))
}

// handleAPINotFound answers any other /api/ path.
func handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	respondAPI(w, http.StatusNotFound, apiError{fmt.Sprintf("no API endpoint %s: the endpoint is /api/status", r.URL.Path)})
}

type apiError struct {
	Error string `json:"error"`
}

// respondAPI writes an API answer; API answers are never cached.
func respondAPI(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handlePage serves the status page.
func handlePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", page.etag)
	h.Set("Content-Type", page.contentType)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page.body))
}

// handleAsset serves the page's script and style sheet.
func handleAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("asset")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// statusURL is the status page's URL for the log, or "off".
func (mon *Monitor) statusURL() string {
	if mon.statusLn == nil {
		return "off"
	}
	return "http://" + mon.statusLn.Addr().String() + "/"
}
