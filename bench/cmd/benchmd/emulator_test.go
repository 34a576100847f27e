package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The summary reads the lines the load suite writes (local/load, report).
func TestSummarizeBurst(t *testing.T) {
	report := `### burst
pushes 1500, expected deliveries 1500, delivered 1500: once 1500, extra copies 0 (at least once, after an ambiguous attempt), uncertain 0 (at most once), disabled endpoints failed or skipped as expected 0
missing 0, unexpected 0, against the guarantee 0
throughput: 1500 deliveries in 41.3 s, from the consumer's release to the last delivery = 36/s
lateness direct (from enqueue), to SNS's confirmation: n 1000, p50 20512 ms, p99 40011 ms, max 40420 ms
lateness scheduled (from due time), to SNS's confirmation: n 500, p50 1520 ms, p99 6011 ms, max 6420 ms
sender actions: map[done:1500]
CPU over 41.3 s: emulator (moto, one Python process) 38.0 s = 92% of a core; functions (runner, qemu bootstraps) 20.1 s = 49% of a core; this machine has 2 cores
emulator time per call seen by the functions:
  dynamodb.UpdateItem           3000 calls, mean   10.1 ms, max    90.2 ms, injected 0, errors 0`
	got := summarizeBurst(report)
	for _, want := range []string{
		"| Pushes per second through the local pipeline (one device each) | **36** (1500 deliveries in 41.3 s) |",
		"| Lateness, scheduled (from due time), n 500 | p50 **1520 ms**, p99 **6011 ms**, max **6420 ms** |",
		"| Lateness, direct (from enqueue), n 1000 |",
		"emulator 38.0 s (92% of a core), functions 20.1 s (49% of a core)",
	} {
		assert.True(t, strings.Contains(got, want), "%q not in\n%s", want, got)
	}
}

func TestSeries(t *testing.T) {
	s := series{3, 1, 2, 10}
	assert.Equal(t, 1.0, s.Min())
	assert.Equal(t, 2.5, s.Median())
	assert.Equal(t, 10.0, s.Max())
	assert.Equal(t, series{2, 0.5}, ratios(series{4, 1}, series{2, 2}))
	assert.Equal(t, "1.0 / **2.5** / 10.0", s.mmm("%.1f"))
}

// The engines table reads what pushctl accuracy --json prints under "engines".
func TestEnginesTable(t *testing.T) {
	got, err := enginesTable(`{"since":"2026-12-06T11:00:00Z","count":900,"engines":{
		"stepfunctions":{"count":300,"meanMs":910.4,"p50Ms":880,"p95Ms":1400,"p99Ms":1700,"maxMs":2100,"minMs":12,"early":0},
		"economy":{"count":300,"meanMs":700,"p50Ms":650,"p95Ms":1200,"p99Ms":1500,"maxMs":1900,"minMs":3,"early":0},
		"queue":{"count":300,"meanMs":80,"p50Ms":70,"p95Ms":150,"p99Ms":200,"maxMs":300,"minMs":10,"early":0}}}`)
	assert.NoError(t, err)
	assert.Contains(t, got, "| stepfunctions | 300 | 910 ms | 880 ms | 1400 ms | **1700 ms** | 2100 ms | 0 |")
	assert.Contains(t, got, "| economy | 300 | 700 ms | 650 ms | 1200 ms | **1500 ms** | 1900 ms | 0 |")
	assert.Less(t, strings.Index(got, "| stepfunctions"), strings.Index(got, "| economy"), "side by side, the default first")

	_, err = enginesTable(`{"engines":{"stepfunctions":{"count":1}}}`)
	assert.ErrorContains(t, err, `no engine "economy"`)
	_, err = enginesTable("not json")
	assert.Error(t, err)
}
