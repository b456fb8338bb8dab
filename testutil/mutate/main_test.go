package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestReadList(t *testing.T) {
	t.Parallel()
	list := filepath.Join(t.TempDir(), "mutants.txt")
	text := "# a comment\n\n" +
		"a/b.go ==> x > y ==> x >= y\n" +
		"a/b.go ==> \"\\tif x {\\n\\t\\treturn\" ==> \"\\tif false {\\n\\t\\treturn\" @@ ./a ./c\n" +
		"a/b.go ==> 	delete(m, k) ==> \n"
	if err := os.WriteFile(list, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := readList(list)
	if err != nil {
		t.Fatal(err)
	}
	want := []mutant{
		{line: 3, path: "a/b.go", from: "x > y", to: "x >= y", testedPkgs: []string{"./a"}},
		{line: 4, path: "a/b.go", from: "\tif x {\n\t\treturn", to: "\tif false {\n\t\treturn", testedPkgs: []string{"./a", "./c"}},
		{line: 5, path: "a/b.go", from: "\tdelete(m, k)", to: "", testedPkgs: []string{"./a"}},
	}
	if len(ms) != len(want) {
		t.Fatalf("read %d mutants, want %d: %+v", len(ms), len(want), ms)
	}
	for i := range want {
		got := ms[i]
		if got.line != want[i].line || got.path != want[i].path || got.from != want[i].from || got.to != want[i].to ||
			len(got.testedPkgs) != len(want[i].testedPkgs) || got.testedPkgs[len(got.testedPkgs)-1] != want[i].testedPkgs[len(want[i].testedPkgs)-1] {
			t.Errorf("mutant %d = %+v, want %+v", i, got, want[i])
		}
	}
	if err := os.WriteFile(list, []byte("a/b.go ==> only one field\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readList(list); err == nil {
		t.Error("a line without a replacement was accepted")
	}
	if got := filter(ms, "c"); len(got) != 0 {
		t.Errorf("filter by another directory kept %d mutants", len(got))
	}
}

// The overlay puts the mutant in the file's place and leaves the file alone.
func TestWriteOverlay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.go")
	if err := os.WriteFile(path, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, cleanup, err := writeOverlay(path, []byte("mutant"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct{ Replace map[string]string }
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(spec.Replace[path])
	if err != nil || string(m) != "mutant" {
		t.Fatalf("overlay for %s gives %q, %v", path, m, err)
	}
	cleanup()
	if orig, _ := os.ReadFile(path); string(orig) != "original" {
		t.Fatalf("the file became %q", orig)
	}
	if _, err := os.Stat(overlay); !os.IsNotExist(err) {
		t.Fatal("the overlay outlived its cleanup")
	}
}

// In place, the file is the mutant until restored.
func TestWriteInPlace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.go")
	if err := os.WriteFile(path, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	restore, err := writeInPlace(path, []byte("mutant"), []byte("original"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "mutant" {
		t.Fatalf("the file is %q, want the mutant", b)
	}
	restore()
	if b, _ := os.ReadFile(path); string(b) != "original" {
		t.Fatalf("restored to %q", b)
	}
}
