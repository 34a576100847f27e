package delivery

import (
	"maps"
	"slices"

	"github.com/delayed-push/delayed-push/internal/metrics"
)

// emitMetrics writes the batch's metrics (EMF): deliveries sent, failed for good or to be
// retried, devices disabled, pushes expired, parked, deferred by quiet hours (each hop), dropped
// in quiet hours or capped, and each sent push's lateness, also per
// engine (LatenessMs with the dimension Engine).
func (s *Service) emitMetrics(results []Result) {
	if s.Metrics == nil {
		return
	}
	counts := map[string]float64{metrics.Sent: 0, metrics.PermanentFailures: 0, metrics.TransientFailures: 0,
		metrics.EndpointsDisabled: 0, metrics.Expired: 0, metrics.Parked: 0,
		metrics.Deferred: 0, metrics.Quiet: 0, metrics.Capped: 0}
	var lateness []float64
	byEngine := map[string][]float64{}
	for _, r := range results {
		counts[metrics.Sent] += float64(r.Sent)
		counts[metrics.PermanentFailures] += float64(r.Failed)
		counts[metrics.TransientFailures] += float64(r.Retrying)
		counts[metrics.EndpointsDisabled] += float64(r.Disabled)
		switch r.Outcome {
		case OutcomeExpired:
			counts[metrics.Expired]++
		case OutcomeDeferred:
			counts[metrics.Deferred]++
		case OutcomeQuiet:
			counts[metrics.Quiet]++
		case OutcomeCapped:
			counts[metrics.Capped]++
		}
		if r.Action == ActionParked {
			counts[metrics.Parked]++
		}
		if r.Lateness && r.Sent > 0 {
			lateness = append(lateness, float64(r.LatenessMs))
			byEngine[r.Engine] = append(byEngine[r.Engine], float64(r.LatenessMs))
		}
	}
	if err := s.Metrics.Emit(counts, map[string][]float64{metrics.LatenessMs: lateness}); err != nil {
		s.logger().Warn("metrics not written", "error", err.Error())
		return
	}
	for _, engine := range slices.Sorted(maps.Keys(byEngine)) {
		if err := s.Metrics.EmitFor(metrics.Engine, engine, nil, map[string][]float64{metrics.LatenessMs: byEngine[engine]}); err != nil {
			s.logger().Warn("metrics not written", "error", err.Error())
			return
		}
	}
}
