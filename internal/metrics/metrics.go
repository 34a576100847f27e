// Package metrics writes CloudWatch metrics in the Embedded Metric Format: one JSON log line
// that CloudWatch Logs turns into metrics, with no API call and no extra latency. Every metric
// of Delayed Push is in the namespace "DelayedPush" with the dimension Function (sender,
// deviceevents, shopifyorders); the sender also writes LatenessMs with the dimensions Function
// and Engine (stepfunctions, economy, queue), a metric of its own beside the one without.
package metrics

import (
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"
)

// Namespace of every metric.
const Namespace = "DelayedPush"

// Metric names.
const (
	Sent              = "Sent"              // deliveries SNS confirmed
	PermanentFailures = "PermanentFailures" // deliveries failed for good (skipped devices included)
	TransientFailures = "TransientFailures" // deliveries that will be retried
	EndpointsDisabled = "EndpointsDisabled" // devices marked disabled (publish errors, SNS events)
	Expired           = "Expired"           // pushes later than their lateness limit: not sent
	Parked            = "Parked"            // messages put on a dead-letter queue with a reason
	Deferred          = "Deferred"          // pushes held by their recipient's quiet hours (one per hop)
	Quiet             = "Quiet"             // pushes dropped in their recipient's quiet hours: not sent
	Capped            = "Capped"            // pushes over a frequency cap: not sent
	LatenessMs        = "LatenessMs"        // due time → SNS's confirmation, per push, less a quiet hours' hold
	OrdersSaved       = "OrdersSaved"       // Shopify orders saved
)

// Dimensions beside Function.
const (
	Engine = "Engine" // the engine that held a push until its due time
)

// maxValues is how many values one EMF metric may carry.
const maxValues = 100

// Emitter writes EMF lines to W (stdout in Lambda). Safe for concurrent use.
type Emitter struct {
	W        io.Writer
	Function string
	Now      func() time.Time
	mu       sync.Mutex
}

// Emit writes the counts and the value series (split into lines of at most 100 values).
// Zero counts are written too: a metric that is 0 is not a missing one.
func (e *Emitter) Emit(counts map[string]float64, values map[string][]float64) error {
	return e.emit("", "", counts, values)
}

// EmitFor is Emit with one more dimension, dimension=value, beside Function: CloudWatch keeps
// the metrics it writes apart from those of the same name that Emit writes.
func (e *Emitter) EmitFor(dimension, value string, counts map[string]float64, values map[string][]float64) error {
	return e.emit(dimension, value, counts, values)
}

func (e *Emitter) emit(dimension, value string, counts map[string]float64, values map[string][]float64) error {
	if e == nil || e.W == nil {
		return nil
	}
	dims := []string{"Function"}
	if dimension != "" {
		dims = append(dims, dimension)
	}
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	lines := []map[string]any{{}}
	for name, v := range counts {
		lines[0][name] = v
	}
	for name, vs := range values {
		for i := 0; i < len(vs); i += maxValues {
			chunk := vs[i:min(i+maxValues, len(vs))]
			k := i / maxValues
			for len(lines) <= k {
				lines = append(lines, map[string]any{})
			}
			lines[k][name] = chunk
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, fields := range lines {
		if len(fields) == 0 {
			continue
		}
		var defs []map[string]string
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			unit := "Count"
			if name == LatenessMs {
				unit = "Milliseconds"
			}
			defs = append(defs, map[string]string{"Name": name, "Unit": unit})
		}
		fields["_aws"] = map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace": Namespace, "Dimensions": [][]string{dims}, "Metrics": defs,
			}},
		}
		fields["Function"] = e.Function
		if dimension != "" {
			fields[dimension] = value
		}
		b, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		if _, err := e.W.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}
