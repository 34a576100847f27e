package delivery

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
)

// Scheduler message attributes (docs/CONTRACTS.md), set by the state machine.
const (
	attrExecutionName = "executionName"
	attrScheduledAt   = "scheduledAt"
	attrDelaySeconds  = "delaySeconds"
	attrSendAt        = "sendAt"
	// attrRequeues counts the sender's own requeues of a push without progress. Read from any
	// message: a producer that sets it only gets its own push counted as failing sooner.
	attrRequeues = "requeues"
	// attrEngine is the engine of a push the sender puts back on the queue, as far as it knew
	// it: a push that comes back is no longer sent by the scheduler's role.
	attrEngine = "engine"
)

// EngineQueue is the engine of a push that no engine held: a producer put it on the queue
// itself (the sender holds it until its dueAt all the same).
const EngineQueue = "queue"

// sourceEngine is the push's engine as far as the message tells it: the scheduler's role sent
// it (stepfunctions), or the sender's own requeue wrote down what it knew. The engine
// attribute is read from any message, as the requeue counter is: a producer that sets it only
// mislabels its own push. "" when the message does not say; the schedules row, when the push
// has one, says better (beginRevision).
func sourceEngine(m *events.SQSMessage, trusted bool) string {
	if trusted {
		return index.EngineStepFunctions
	}
	switch e := attr(m, attrEngine); e {
	case index.EngineStepFunctions, index.EngineEconomy, EngineQueue:
		return e
	}
	return ""
}

// fromScheduler reports whether m was sent by the scheduler's role. SQS sets SenderId to the
// principal that sent the message, "AROA...:session" for a role; a producer cannot forge it.
func (s *Service) fromScheduler(m *events.SQSMessage) bool {
	return s.SchedulerSenderID != "" && strings.HasPrefix(m.Attributes["SenderId"], s.SchedulerSenderID+":")
}

// pushID: body id, else the scheduler's executionName, else the SQS message id (stable across
// redeliveries of one message; a requeued or parked push carries it in its body).
func pushID(p push.Push, m *events.SQSMessage, trusted bool) string {
	if p.ID != "" {
		return p.ID
	}
	if v := attr(m, attrExecutionName); trusted && v != "" {
		return v
	}
	return m.MessageId
}

// dueTime: the scheduler's sendAt, else its scheduledAt + delaySeconds, else body dueAt, else
// the SQS SentTimestamp (a push sent now: lateness is then the queue's latency). A malformed
// source is skipped for the next: lateness is a measure, not a reason to reject a push.
func dueTime(p push.Push, m *events.SQSMessage, trusted bool) (time.Time, string, bool) {
	if trusted {
		if t, err := time.Parse(time.RFC3339, attr(m, attrSendAt)); err == nil {
			return t, attrSendAt, true
		}
		if start, err := time.Parse(time.RFC3339, attr(m, attrScheduledAt)); err == nil {
			// Read as JSON reads it: an input's 300.0 or 3e2 arrives as written.
			if d, ok := jsonfield.Integer(json.RawMessage(attr(m, attrDelaySeconds))); ok && d >= 0 && d <= 1e9 {
				return start.Add(time.Duration(d) * time.Second), attrDelaySeconds, true
			}
		}
	}
	if t, ok := p.DueTime(); ok {
		return t, "dueAt", true
	}
	if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
		return time.UnixMilli(ms), "sentTimestamp", true
	}
	return time.Time{}, "", false
}

func requeues(m *events.SQSMessage) int {
	n, _ := strconv.Atoi(attr(m, attrRequeues))
	return max(n, 0)
}

func receiveCount(m *events.SQSMessage) int {
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	return n
}

func attr(m *events.SQSMessage, name string) string {
	if a, ok := m.MessageAttributes[name]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}
