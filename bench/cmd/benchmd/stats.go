package main

import (
	"fmt"
	"sort"
	"time"
)

// series is a set of measurements of one quantity.
type series []float64

func (s series) sorted() []float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	return c
}

// Min, Median and Max of the series (the median of an even count is the mean of the middle two).
func (s series) Min() float64 { return s.sorted()[0] }
func (s series) Max() float64 { c := s.sorted(); return c[len(c)-1] }
func (s series) Median() float64 {
	c := s.sorted()
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// mmm formats min / median / max with the verb of one figure.
func (s series) mmm(verb string) string {
	if len(s) == 0 {
		return "n/a"
	}
	return fmt.Sprintf(verb+" / **"+verb+"** / "+verb, s.Min(), s.Median(), s.Max())
}

// ratios divides a by b pair by pair.
func ratios(a, b series) series {
	out := make(series, 0, len(a))
	for i := range a {
		if i < len(b) && b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
