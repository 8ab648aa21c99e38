// Package stats summarizes repeated measurements (median, minimum, maximum)
// and latency samples (percentiles), and prints Markdown tables.
package stats

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Summary is the median, minimum and maximum of several runs.
type Summary struct {
	Median, Min, Max float64
	Runs             int
}

// Summarize returns the Summary of vs; the median of an even count is the
// mean of the two middle values.
func Summarize(vs []float64) Summary {
	if len(vs) == 0 {
		return Summary{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// Format prints the summary as "median (min–max)" with each value passed
// through f.
func (s Summary) Format(f func(float64) string) string {
	if s.Runs == 0 {
		return "n/a"
	}
	if s.Runs == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method. ds is sorted in place.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(p/100*float64(len(ds))+0.999999) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

// Rate formats tasks per second.
func Rate(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.0fk/s", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.1fk/s", v/1000)
	}
	return fmt.Sprintf("%.0f/s", v)
}

// Micros formats a duration given in seconds as a readable duration.
func Micros(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}

// Ratio formats a ratio such as 5.3x.
func Ratio(v float64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", v)
}

// Table is a Markdown table.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Print writes the table with its title.
func (t *Table) Print(w io.Writer) {
	fmt.Fprintf(w, "\n### %s\n\n", t.Title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.Header, " | "))
	seps := make([]string, len(t.Header))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}
