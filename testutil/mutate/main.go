// Command mutate runs a mutation pass: it applies one-line mutants, one at a
// time, runs the tests of the mutated package with a timeout, restores the
// file, and prints which mutants the tests killed and which survived, then
// the score per package.
//
//	go run ./testutil/mutate -list testutil/mutate/mutants.txt [-pkg slave_src] [-timeout 3m]
//
// The list has one mutant per line, fields separated by " ==> " and " @@ ":
//
//	path/to/file.go ==> exact text ==> replacement [@@ ./pkg/to/test ./other]
//
// A field in double quotes is a Go string literal ("\tif x {\n\t\treturn"), for a
// text that spans lines. The text must occur exactly once in the file (a mutant whose text is gone
// or ambiguous is reported STALE, not scored); the packages tested default to
// the file's own directory. Blank lines and lines starting with # are skipped.
// A mutant that does not compile is reported INVALID, not scored.
//
// By default a mutant never touches the source: it is handed to go test
// through -overlay, so other builds in the tree meanwhile see the real code.
// Tests that build binaries with go build of their own (e2e) do not see an
// overlay: -inplace writes the mutant into the file instead, restores it
// after every mutant and on a signal, and refuses to start on a file with
// uncommitted changes, so a run can neither leave a mutant behind unnoticed
// nor have one committed by mistake.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mutant is one line of the list.
type mutant struct {
	line       int
	path       string
	from, to   string
	testedPkgs []string
}

// pkg is the package a mutant is scored under: its file's directory.
func (m mutant) pkg() string { return filepath.Dir(m.path) }

type outcome string

const (
	killed   outcome = "KILLED"
	survived outcome = "SURVIVED"
	stale    outcome = "STALE"
	invalid  outcome = "INVALID"
)

func main() {
	list := flag.String("list", "testutil/mutate/mutants.txt", "the mutants")
	only := flag.String("pkg", "", "only mutants of files under this directory (comma-separated list)")
	timeout := flag.Duration("timeout", 3*time.Minute, "bound on one package's tests; a timeout kills the mutant")
	race := flag.Bool("race", false, "run the tests with -race (slower)")
	inplace := flag.Bool("inplace", false, "write each mutant into its file (restored after) instead of an -overlay")
	flag.Parse()
	mutants, err := readList(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	mutants = filter(mutants, *only)
	if err := checkClean(mutants); *inplace && err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	scores := map[string][2]int{} // package → killed, scored
	for _, m := range mutants {
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		res, detail := run(ctx, m, *timeout, *race, *inplace)
		if ctx.Err() != nil {
			break // interrupted: the file is restored, the outcome means nothing
		}
		fmt.Printf("%-8s %s:%d %s: %q → %q (%.1fs)%s\n", res, *list, m.line, m.path, m.from, m.to, time.Since(start).Seconds(), detail)
		if res == killed || res == survived {
			s := scores[m.pkg()]
			s[1]++
			if res == killed {
				s[0]++
			}
			scores[m.pkg()] = s
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "mutate: interrupted; every file restored")
		os.Exit(130)
	}
	pkgs := make([]string, 0, len(scores))
	for p := range scores {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	fmt.Println("\npackage                killed/mutants  score")
	var k, n int
	for _, p := range pkgs {
		s := scores[p]
		k, n = k+s[0], n+s[1]
		fmt.Printf("%-22s %3d/%-3d        %5.1f%%\n", p, s[0], s[1], 100*float64(s[0])/float64(s[1]))
	}
	if n > 0 {
		fmt.Printf("%-22s %3d/%-3d        %5.1f%%\n", "all", k, n, 100*float64(k)/float64(n))
	}
}

func readList(path string) ([]mutant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mutant
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if strings.HasSuffix(text, " ==>") {
			text += " " // an empty replacement: the line deleted
		}
		spec, pkgs, _ := strings.Cut(text, " @@ ")
		fields := strings.Split(spec, " ==> ")
		if len(fields) != 3 || fields[0] == "" || fields[1] == "" {
			return nil, fmt.Errorf("%s:%d: want \"path ==> text ==> replacement [@@ packages]\"", path, line)
		}
		for i := 1; i < 3; i++ {
			if strings.HasPrefix(fields[i], `"`) {
				if fields[i], err = strconv.Unquote(fields[i]); err != nil {
					return nil, fmt.Errorf("%s:%d: field %d: %w", path, line, i+1, err)
				}
			}
		}
		m := mutant{line: line, path: fields[0], from: fields[1], to: fields[2], testedPkgs: strings.Fields(pkgs)}
		if len(m.testedPkgs) == 0 {
			m.testedPkgs = []string{"./" + m.pkg()}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func filter(ms []mutant, only string) []mutant {
	if only == "" {
		return ms
	}
	var out []mutant
	for _, m := range ms {
		for _, dir := range strings.Split(only, ",") {
			if m.pkg() == filepath.Clean(dir) || strings.HasPrefix(m.path, filepath.Clean(dir)+"/") {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// checkClean refuses files with uncommitted changes: after the run each file
// must be exactly what git has, so a left-over mutant would show at once.
func checkClean(ms []mutant) error {
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.path] {
			continue
		}
		seen[m.path] = true
		out, err := exec.Command("git", "status", "--porcelain", "--", m.path).Output()
		if err != nil {
			return fmt.Errorf("git status %s: %w", m.path, err)
		}
		if len(bytes.TrimSpace(out)) > 0 {
			return fmt.Errorf("%s has uncommitted changes (a mutant left behind? git diff %s): commit or restore it first", m.path, m.path)
		}
	}
	return nil
}

// run applies m, runs its packages' tests and, in place, restores the file
// whatever happens.
func run(ctx context.Context, m mutant, timeout time.Duration, race, inplace bool) (outcome, string) {
	orig, err := os.ReadFile(m.path)
	if err != nil {
		return stale, " (" + err.Error() + ")"
	}
	if n := bytes.Count(orig, []byte(m.from)); n != 1 {
		return stale, fmt.Sprintf(" (text found %d times)", n)
	}
	mutated := bytes.Replace(orig, []byte(m.from), []byte(m.to), 1)
	var extra []string
	if inplace {
		restore, err := writeInPlace(m.path, mutated, orig)
		if err != nil {
			return stale, " (" + err.Error() + ")"
		}
		defer restore()
	} else {
		overlay, cleanup, err := writeOverlay(m.path, mutated)
		if err != nil {
			return stale, " (" + err.Error() + ")"
		}
		defer cleanup()
		extra = append(extra, "-overlay", overlay)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append([]string{"test", "-count=1", "-failfast", "-timeout", timeout.String()}, extra...)
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(tctx, "go", append(args, m.testedPkgs...)...)
	cmd.Env = append(os.Environ(), "CI=") // mutants are judged by the tests that run anywhere
	killGroupOnCancel(cmd)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return survived, ""
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		return killed, " (timeout)"
	case errors.As(err, &exit) && bytes.Contains(out, []byte("[build failed]")):
		return invalid, " (does not compile: " + firstLine(out) + ")"
	case errors.As(err, &exit):
		return killed, " (" + failedTest(out) + ")"
	default:
		return invalid, " (" + err.Error() + ")"
	}
}

// writeInPlace writes the mutant into path; restore puts orig back.
func writeInPlace(path string, mutated, orig []byte) (restore func(), err error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, mutated, info.Mode()); err != nil {
		return nil, err
	}
	return func() {
		if err := os.WriteFile(path, orig, info.Mode()); err != nil {
			fmt.Fprintf(os.Stderr, "mutate: RESTORE FAILED for %s: %v (git checkout -- %s)\n", path, err, path)
			os.Exit(3)
		}
	}, nil
}

// writeOverlay writes the mutant to a temporary file and an -overlay file
// that puts it in path's place.
func writeOverlay(path string, mutated []byte) (overlay string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	abs, err := filepath.Abs(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, filepath.Base(path)), mutated, 0o644)
	}
	var spec []byte
	if err == nil {
		spec, err = json.Marshal(map[string]map[string]string{"Replace": {abs: filepath.Join(dir, filepath.Base(path))}})
	}
	if err == nil {
		overlay = filepath.Join(dir, "overlay.json")
		err = os.WriteFile(overlay, spec, 0o644)
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return overlay, cleanup, nil
}

func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// failedTest names the first failing test in go test's output.
func failedTest(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(l), "--- FAIL: "); ok {
			return name
		}
	}
	return firstLine(out)
}
