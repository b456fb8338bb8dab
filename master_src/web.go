package master

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"

	"github.com/lbproject/loadbalancer/common/webui"
)

// The status page: web/index.html (a template, rendered once with the task
// list), web/app.js and web/style.css, all in the binary. The page loads
// nothing from elsewhere and its Content-Security-Policy says so.

//go:embed web/index.html web/app.js web/style.css
var webFiles embed.FS

// assets are the files served under /static/.
var assets = map[string]webui.Asset{
	"base.css":  webui.BaseCSS,
	"base.js":   webui.BaseJS,
	"app.js":    webui.MustAsset(webFiles, "web/app.js", "text/javascript; charset=utf-8"),
	"style.css": webui.MustAsset(webFiles, "web/style.css", "text/css; charset=utf-8"),
}

// renderPage renders the status page with the tasks every master accepts
// from the start; the page adds those the slaves offer from /api/status.
func renderPage() (webui.Asset, error) {
	tmpl, err := template.ParseFS(webFiles, "web/index.html")
	if err != nil {
		return webui.Asset{}, fmt.Errorf("status page: %w", err)
	}
	type taskOption struct {
		Name string
		MaxN uint64
	}
	var data struct{ Tasks []taskOption }
	for _, t := range newCatalog().listed() {
		data.Tasks = append(data.Tasks, taskOption{t.Name, t.Builtin.MaxN})
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return webui.Asset{}, fmt.Errorf("status page: %w", err)
	}
	return webui.NewAsset(buf.Bytes(), "text/html; charset=utf-8"), nil
}

// handlePage serves the status page.
func (m *Master) handlePage(w http.ResponseWriter, r *http.Request) {
	webui.ServePage(w, r, m.page, webui.CSP("'self'"))
}
