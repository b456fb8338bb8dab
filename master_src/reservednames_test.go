package master

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// The one list of reserved names is exactly the first segments of the
// routes routes() registers: a route added without its name would route
// GET /NAME away from a slave's task NAME, and a name left after its route
// went would refuse a task for nothing. It reads http.go, since a ServeMux
// cannot list its patterns.
func TestReservedNamesAreTheMastersRoutes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "http.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "routes" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				t.Fatalf("a route whose pattern is no literal: %#v", call.Args[0])
			}
			pattern, _ := strconv.Unquote(lit.Value)
			routes = append(routes, pattern)
			return true
		})
		return false
	})
	if len(routes) < 5 {
		t.Fatalf("found routes %q in http.go: the parse missed them", routes)
	}
	var names []string
	for _, p := range routes {
		_, path, _ := strings.Cut(p, " ") // "GET /ok" → "/ok"; "/" has no method
		if path == "" {
			path = p
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		if first == "" || strings.HasPrefix(first, "{") || slices.Contains(names, first) {
			continue // the page, the tasks' own /{task}, a second route under one name
		}
		names = append(names, first)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(tasks.ReservedNames))
	if !slices.Equal(names, want) {
		t.Fatalf("routes() serves %q, tasks.ReservedNames lists %q", names, want)
	}
}

// Every reserved name a slave could offer is refused; the name taken anyway
// would be a task GET /NAME never reaches.
func TestCatalogRefusesEveryReservedName(t *testing.T) {
	for _, name := range tasks.ReservedNames {
		if !packets.ValidTaskName(name) {
			continue // the decoder refuses it before the catalogue sees it
		}
		c := newCatalog()
		_, refused := c.offer(testSession(1), []packets.OfferedTask{{Name: name, Load: 1}})
		if len(refused) != 1 || !strings.Contains(refused[0], "a path of the master") {
			t.Errorf("offer of %q: refused %q, want it refused as a path of the master", name, refused)
		}
	}
}
