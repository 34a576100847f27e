package delivery

import (
	"context"
	"log/slog"
	"time"
)

// logResult writes the message's one log line, "push processed": its outcome and action,
// the endpoints' counts (those that are zero left out, but for the first four), the engine
// that held the push when it is known, the hold of quiet hours (heldMs, and quietUntil while
// deferred), the cap that refused a capped push, and why.
// Invalid and parked pushes are errors; retries, failures, partial and expired sends warnings.
func (s *Service) logResult(ctx context.Context, r Result) {
	attrs := []any{
		"messageId", r.MessageID, "pushId", r.PushID, "outcome", string(r.Outcome), "action", string(r.Action),
		"receiveCount", r.ReceiveCount, "endpoints", r.Endpoints, "sent", r.Sent, "failed", r.Failed,
		"duplicates", r.Duplicates,
	}
	for _, kv := range []struct {
		k string
		v int
	}{{"skipped", r.Skipped}, {"uncertain", r.Uncertain}, {"expired", r.Expired}, {"quiet", r.Quiet}, {"capped", r.Capped}, {"retrying", r.Retrying}, {"busy", r.Busy}, {"pending", r.Pending}, {"requeues", r.Requeues}} {
		if kv.v > 0 {
			attrs = append(attrs, kv.k, kv.v)
		}
	}
	if r.Lateness {
		attrs = append(attrs, "latenessMs", r.LatenessMs)
	}
	if r.Held {
		attrs = append(attrs, "heldMs", r.HeldMs)
	}
	if !r.QuietUntil.IsZero() {
		attrs = append(attrs, "quietUntil", r.QuietUntil.UTC().Format(time.RFC3339))
	}
	if r.Cap != "" {
		attrs = append(attrs, "cap", r.Cap)
	}
	if r.Engine != "" {
		attrs = append(attrs, "engine", r.Engine)
	}
	if r.DueSource != "" {
		attrs = append(attrs, "dueSource", r.DueSource)
	}
	if r.Reason != "" {
		attrs = append(attrs, "reason", r.Reason)
	}
	if field := invalidField(r.Err); field != "" {
		attrs = append(attrs, "field", field)
	}
	if r.Err != nil {
		attrs = append(attrs, "error", r.Err.Error())
	}
	level := slog.LevelInfo
	switch {
	case r.Outcome == OutcomeInvalid || r.Action == ActionParked:
		level = slog.LevelError
	case r.Action == ActionRetry || r.Outcome == OutcomeFailed || r.Outcome == OutcomePartial || r.Outcome == OutcomeExpired:
		level = slog.LevelWarn
	}
	s.logger().Log(ctx, level, "push processed", attrs...)
}
