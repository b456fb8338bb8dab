package master

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/lbproject/loadbalancer/common/tasks"
)

// The status page: web/index.html (a template, rendered once with the task
// list), web/app.js and web/style.css, all in the binary. The page loads
// nothing from elsewhere and its Content-Security-Policy says so.

//go:embed web/index.html web/app.js web/style.css
var webFiles embed.FS

// pageCSP allows the page its own script, style and API, and nothing else.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is a static file of the page, with its ETag.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets are the files served under /static/. They never change while the
// binary runs; served with no-cache and an ETag, a browser revalidates them
// and never runs a new page with an old script.
var assets = map[string]asset{
	"app.js":    mustAsset("web/app.js", "text/javascript; charset=utf-8"),
	"style.css": mustAsset("web/style.css", "text/css; charset=utf-8"),
}

func mustAsset(name, contentType string) asset {
	b, err := webFiles.ReadFile(name)
	if err != nil {
		panic(err) // the embed directive above names the file: cannot happen
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// renderPage renders the status page with the tasks the master accepts.
func renderPage() ([]byte, error) {
	tmpl, err := template.ParseFS(webFiles, "web/index.html")
	if err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	type taskOption struct {
		Name string
		MaxN uint64
	}
	var data struct{ Tasks []taskOption }
	for _, t := range tasks.All() {
		data.Tasks = append(data.Tasks, taskOption{t.Name, t.MaxN})
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	return buf.Bytes(), nil
}

// handlePage serves the status page.
func (m *Master) handlePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(m.page))
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
