package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteChart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, magic := range map[string][]byte{"lab.png": []byte("\x89PNG\r\n\x1a\n"), "lab.svg": []byte("<?xml")} {
		path := filepath.Join(dir, name)
		if err := WriteChart(sampleReport(t), path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, magic) || len(b) < 10_000 {
			t.Fatalf("%s: %d bytes starting %q", name, len(b), b[:min(len(b), 8)])
		}
	}
	if err := WriteChart(sampleReport(t), filepath.Join(dir, "lab.gif")); err == nil {
		t.Fatal("a .gif chart was accepted")
	}
}

func TestWriteChartWithoutAnswers(t *testing.T) {
	t.Parallel()
	r := sampleReport(t)
	for i := range r.Results {
		r.Results[i].latencies = nil
		r.Results[i].Load = LoadSeries{}
	}
	if err := WriteChart(r, filepath.Join(t.TempDir(), "empty.png")); err != nil {
		t.Fatal(err)
	}
}

func TestCDFPoints(t *testing.T) {
	t.Parallel()
	var v []float64
	for i := range 10_000 {
		v = append(v, float64(i+1))
	}
	pts := cdfXYs(v)
	if len(pts) > cdfPoints+2 || pts[0].X != 1 || pts[len(pts)-1].X != 10_000 || pts[len(pts)-1].Y != 1 {
		t.Fatalf("%d points from %v to %v", len(pts), pts[0], pts[len(pts)-1])
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].X < pts[i-1].X || pts[i].Y <= pts[i-1].Y {
			t.Fatalf("CDF not increasing at %d: %v then %v", i, pts[i-1], pts[i])
		}
	}
	if cdfXYs(nil) != nil {
		t.Fatal("points from no values")
	}
}
