// Package webui is what the master's and the monitor's status pages share:
// the base style sheet and script helpers, and serving embedded files with
// their headers.
package webui

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"time"
)

//go:embed base.css
var baseCSS []byte

//go:embed base.js
var baseJS []byte

// Asset is a file of a page, with its content type and ETag. Assets never
// change while the binary runs; served with no-cache and an ETag, a browser
// revalidates them and never runs a new page with an old script.
type Asset struct {
	Body        []byte
	ContentType string
	ETag        string
}

// NewAsset wraps body.
func NewAsset(body []byte, contentType string) Asset {
	sum := sha256.Sum256(body)
	return Asset{Body: body, ContentType: contentType, ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// MustAsset reads name from an embedded file system; the embed directive
// that names the file guarantees it is there.
func MustAsset(fsys fs.FS, name, contentType string) Asset {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err)
	}
	return NewAsset(b, contentType)
}

// BaseCSS and BaseJS are the shared style sheet and script helpers; pages
// load them as /static/base.css and /static/base.js before their own.
var (
	BaseCSS = NewAsset(baseCSS, "text/css; charset=utf-8")
	BaseJS  = NewAsset(baseJS, "text/javascript; charset=utf-8")
)

// CSP allows a page its own script, style and API, and nothing else; forms
// may post only where formAction says ('self' or 'none').
func CSP(formAction string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action " + formAction + "; frame-ancestors 'none'"
}

// ServePage serves a page under a Content-Security-Policy.
func ServePage(w http.ResponseWriter, r *http.Request, page Asset, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	serve(w, r, page)
}

// AssetHandler serves the assets by the {asset} path value (/static/{asset}).
func AssetHandler(assets map[string]Asset) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.PathValue("asset")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serve(w, r, a)
	}
}

func serve(w http.ResponseWriter, r *http.Request, a Asset) {
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", a.ETag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.Body))
}
