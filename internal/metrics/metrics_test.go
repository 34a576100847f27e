package metrics_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/metrics"
)

func TestEmitWritesEMFLinesCloudWatchReads(t *testing.T) {
	var buf bytes.Buffer
	e := &metrics.Emitter{W: &buf, Function: "sender", Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	lateness := make([]float64, 150)
	for i := range lateness {
		lateness[i] = float64(i)
	}
	require.NoError(t, e.Emit(map[string]float64{metrics.Sent: 3, metrics.Expired: 0}, map[string][]float64{metrics.LatenessMs: lateness}))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, "150 values: two lines of at most 100")
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	assert.Equal(t, "sender", first["Function"])
	assert.EqualValues(t, 3, first["Sent"])
	assert.EqualValues(t, 0, first["Expired"], "a zero is written")
	assert.Len(t, first["LatenessMs"], 100)
	aws := first["_aws"].(map[string]any)
	assert.EqualValues(t, 1700000000000, aws["Timestamp"])
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, "DelayedPush", cw["Namespace"])
	assert.Equal(t, []any{[]any{"Function"}}, cw["Dimensions"])
	assert.Contains(t, cw["Metrics"], map[string]any{"Name": "LatenessMs", "Unit": "Milliseconds"})
	assert.Contains(t, cw["Metrics"], map[string]any{"Name": "Sent", "Unit": "Count"})
	var second map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	assert.Len(t, second["LatenessMs"], 50)
	assert.NotContains(t, second, "Sent", "counts once")
	var nilEmitter *metrics.Emitter
	assert.NoError(t, nilEmitter.Emit(map[string]float64{"x": 1}, nil))
}

// EmitFor writes its metrics under Function and its own dimension only: LatenessMs per
// engine is a metric beside LatenessMs per function, not counted in it.
func TestEmitForAddsADimension(t *testing.T) {
	var buf bytes.Buffer
	e := &metrics.Emitter{W: &buf, Function: "sender", Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	require.NoError(t, e.EmitFor(metrics.Engine, "economy", nil, map[string][]float64{metrics.LatenessMs: {120, 340}}))
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "sender", line["Function"])
	assert.Equal(t, "economy", line["Engine"])
	assert.Equal(t, []any{120.0, 340.0}, line["LatenessMs"])
	cw := line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{[]any{"Function", "Engine"}}, cw["Dimensions"])
	assert.Equal(t, []any{map[string]any{"Name": "LatenessMs", "Unit": "Milliseconds"}}, cw["Metrics"])
}
