package monitor

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/lbproject/loadbalancer/common/webui"
)

// The status server on Options.StatusAddr: the page (web/index.html,
// web/app.js, web/style.css and common/webui's base files, all in the binary;
// it loads nothing from elsewhere and its Content-Security-Policy says so),
// GET /api/status and GET /ok. New binds it, Run serves it until its context ends.

//go:embed web/index.html web/app.js web/style.css
var webFiles embed.FS

// Bounds of the status server: its clients are browsers and scripts asking
// for small answers.
const (
	statusReadHeaderTimeout = 5 * time.Second
	statusWriteTimeout      = 10 * time.Second
	statusIdleTimeout       = 2 * time.Minute
	statusShutdownWait      = 2 * time.Second
)

// page and assets are the status page and the files under /static/.
var (
	page   = webui.MustAsset(webFiles, "web/index.html", "text/html; charset=utf-8")
	assets = map[string]webui.Asset{
		"base.css":  webui.BaseCSS,
		"base.js":   webui.BaseJS,
		"app.js":    webui.MustAsset(webFiles, "web/app.js", "text/javascript; charset=utf-8"),
		"style.css": webui.MustAsset(webFiles, "web/style.css", "text/css; charset=utf-8"),
	}
)

// listenStatus binds the status server, or does nothing when
// Options.StatusAddr is empty.
func (mon *Monitor) listenStatus() error {
	if mon.opts.StatusAddr == "" {
		return nil
	}
	raw, err := net.Listen("tcp", mon.opts.StatusAddr)
	if err != nil {
		return fmt.Errorf("opening status listener %s: %w", mon.opts.StatusAddr, err)
	}
	ln, err := mon.opts.StatusHTTP.Listen(raw) // HTTPS with -tls-cert
	if err != nil {
		_ = raw.Close()
		return err
	}
	mon.statusLn = ln
	mon.statusSrv = &http.Server{
		Handler:           mon.opts.StatusHTTP.Handler(mon.statusRoutes()),
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
	mux.HandleFunc("GET /static/{asset}", webui.AssetHandler(assets))
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

// handlePage serves the status page; it has no form to post.
func handlePage(w http.ResponseWriter, r *http.Request) {
	webui.ServePage(w, r, page, webui.CSP("'none'"))
}

// statusURL is the status page's URL for the log, or "off".
func (mon *Monitor) statusURL() string {
	if mon.statusLn == nil {
		return "off"
	}
	scheme := "http://"
	if mon.opts.StatusHTTP.TLS() {
		scheme = "https://"
	}
	return scheme + mon.statusLn.Addr().String() + "/"
}
