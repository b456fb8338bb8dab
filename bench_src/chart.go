package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart sizes: two panels per row.
const (
	chartCols      = 2
	chartWidth     = 12 * vg.Inch
	chartRowHeight = 3.6 * vg.Inch
	chartDPI       = 110
	cdfPoints      = 400 // most points drawn per latency CDF
)

// palette holds well-separated colours (Okabe–Ito, colour-blind safe).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255}, color.RGBA{240, 228, 66, 255},
}

// styleLine gives line i its colour; past the palette's eight, the colours
// come again dashed, so that nine algorithms stay told apart.
func styleLine(l *draw.LineStyle, i int) {
	l.Color, l.Width = palette[i%len(palette)], vg.Points(1.5)
	if i >= len(palette) {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(2.5)}
	}
}

// WriteChart draws the report to path (.png or .svg): first the latency CDF
// of every algorithm, then one panel per algorithm with each slave's load
// over time (mean tasks in flight per bucket), all on the same scale.
func WriteChart(r *Report, path string) error {
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if format != "png" && format != "svg" {
		return fmt.Errorf("-chart %q: the name must end in .png or .svg", path)
	}
	plots := []*plot.Plot{cdfPlot(r)}
	top := 0.0
	for _, res := range r.Results {
		for _, s := range res.Load.Slaves {
			for _, v := range s {
				top = max(top, v)
			}
		}
	}
	labels := r.slaveLabels()
	for _, res := range r.Results {
		// Head room for the legend, a line per slave at the top.
		plots = append(plots, loadPlot(res, labels, top*(1.1+0.1*float64(len(labels)))))
	}
	return drawPlots(plots, path, format)
}

// drawPlots draws plots on a grid of chartCols columns to path, in format
// (png or svg).
func drawPlots(plots []*plot.Plot, path, format string) error {
	rows := (len(plots) + chartCols - 1) / chartCols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, chartCols)
	}
	for i, p := range plots {
		grid[i/chartCols][i%chartCols] = p
	}
	h := chartRowHeight * vg.Length(rows)
	var canvas vg.CanvasWriterTo
	if format == "png" {
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(chartWidth, h), vgimg.UseDPI(chartDPI))}
	} else {
		canvas = vgsvg.New(chartWidth, h)
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: rows, Cols: chartCols, PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(grid, tiles, dc)
	for j := range grid {
		for i, p := range grid[j] {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cdfPlot draws each algorithm's latency CDF on a log time axis.
func cdfPlot(r *Report) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Latency CDF, workload %s, %s", r.Workload.Name, r.loopText())
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of completed requests ≤ x"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	// The legend goes top left, where a CDF has no points once the x axis
	// starts well below the fastest answer.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = 2*vg.Millimeter, -2*vg.Millimeter
	fastest := math.Inf(1)
	for i, res := range r.Results {
		pts := cdfXYs(res.latencies)
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			continue
		}
		styleLine(&l.LineStyle, i)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (p99 %s ms)", res.Algorithm, fmtMS(res.LatencyMS.P99)), l)
		fastest = min(fastest, pts[0].X)
	}
	if math.IsInf(fastest, 1) {
		p.X.Min, p.X.Max = 0.1, 1000 // nothing answered: a log axis still needs a positive range
	} else {
		p.X.Min = fastest / 20
	}
	return p
}

// cdfXYs samples the empirical CDF of sorted values at no more than
// cdfPoints points, always keeping the first and the last.
func cdfXYs(sorted []float64) plotter.XYs {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	step := max(1, n/cdfPoints)
	var pts plotter.XYs
	for i := 0; i < n; i += step {
		pts = append(pts, plotter.XY{X: max(sorted[i], 1e-3), Y: float64(i+1) / float64(n)})
	}
	if last := pts[len(pts)-1]; last.Y < 1 {
		pts = append(pts, plotter.XY{X: max(sorted[n-1], 1e-3), Y: 1})
	}
	return pts
}

// loadPlot draws one algorithm's load per slave over time.
func loadPlot(res Result, labels []string, top float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: load per slave (imbalance %.2f)", res.Algorithm, res.Imbalance)
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = fmt.Sprintf("tasks in flight (%gs mean)", res.Load.BucketS)
	p.Y.Min = 0
	if top > 0 {
		p.Y.Max = top
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	for i, label := range labels {
		series, ok := res.Load.Slaves[label]
		if !ok || len(series) == 0 {
			continue
		}
		// A last bucket shorter than half the others is mostly the drain
		// after the load stopped, and its mean is noise: not drawn.
		end := res.ElapsedS
		if n := len(series); n > 1 && end-float64(n-1)*res.Load.BucketS < res.Load.BucketS/2 {
			series, end = series[:n-1], float64(n-1)*res.Load.BucketS
		}
		pts := make(plotter.XYs, 0, len(series)+1)
		for b, v := range series {
			pts = append(pts, plotter.XY{X: float64(b) * res.Load.BucketS, Y: v})
		}
		pts = append(pts, plotter.XY{X: end, Y: series[len(series)-1]})
		l, err := plotter.NewLine(pts)
		if err != nil {
			continue
		}
		l.StepStyle = plotter.PostStep
		styleLine(&l.LineStyle, i)
		p.Add(l)
		name := label
		for _, s := range res.Slaves {
			if s.Label == label && s.Spec != "" {
				name += " (" + s.Spec + ")"
			}
		}
		p.Legend.Add(name, l)
	}
	return p
}
