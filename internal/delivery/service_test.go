package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/push"
)

var now = time.Date(2026, 12, 1, 9, 0, 2, 500_000_000, time.UTC)

const (
	ep1 = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/1"
	ep2 = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/2"
	ep3 = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/3"

	schedulerRoleID = "AROASCHEDULERROLE"
)

type harness struct {
	svc   *delivery.Service
	reg   *fakeRegistry
	log   *fakeLog
	pub   *fakePublisher
	queue *fakeQueue
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the concurrent log writes of one batch.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness() *harness {
	h := &harness{
		reg:   &fakeRegistry{devices: map[string][]string{"u-42": {ep1, ep2, ep3}, "u-1": {ep1}}},
		log:   newFakeLog(),
		pub:   &fakePublisher{errs: map[string]error{}},
		queue: &fakeQueue{},
		logs:  &syncBuffer{},
	}
	h.svc = &delivery.Service{
		Registry: h.reg, Log: h.log, Publisher: h.pub, Queue: h.queue,
		Logger:            slog.New(slog.NewJSONHandler(h.logs, nil)),
		Now:               func() time.Time { return now },
		MaxReceiveCount:   5,
		SchedulerSenderID: schedulerRoleID,
	}
	return h
}

func msg(id, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

func event(ms ...events.SQSMessage) events.SQSEvent { return events.SQSEvent{Records: ms} }

func failedIDs(r events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func (h *harness) handle(t *testing.T, ms ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	var resp events.SQSEventResponse
	require.NotPanics(t, func() {
		var err error
		resp, err = h.svc.Handle(context.Background(), event(ms...))
		require.NoError(t, err)
	})
	return resp
}

// logLines returns the JSON log records with the given msg.
func (h *harness) logLines(t *testing.T, message string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == message {
			out = append(out, rec)
		}
	}
	return out
}

// report returns the last "push processed" line of a message.
func (h *harness) report(t *testing.T, messageID string) map[string]any {
	t.Helper()
	lines := h.logLines(t, "push processed")
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["messageId"] == messageID {
			return lines[i]
		}
	}
	t.Fatalf("no report for message %s in %s", messageID, h.logs.String())
	return nil
}

func TestAllDevicesOfUserReceivePushWithItsID(t *testing.T) {
	h := newHarness()
	body := `{"id":"p1","userId":"u-42","title":"Shipped","body":"Tuesday","data":{"orderId":"1234"}}`
	resp := h.handle(t, msg("m1", body))
	assert.Empty(t, resp.BatchItemFailures)
	assert.NotNil(t, resp.BatchItemFailures, "an empty list, not null: every message succeeded")

	p, _ := push.Decode([]byte(body))
	want, err := fcm.BuildMessage(p, "p1")
	require.NoError(t, err)
	assert.Contains(t, want, `\"pushId\":\"p1\"`, "the app can drop a repeat by its id")
	for _, ep := range []string{ep1, ep2, ep3} {
		assert.Equal(t, 1, h.pub.count(ep), ep)
		rec := h.log.get("p1", ep)
		assert.Equal(t, "sent", rec.status, ep)
		assert.Equal(t, "msg-"+ep, rec.snsID)
		assert.Equal(t, "u-42", rec.userID)
		assert.Equal(t, 1, rec.attempts)
	}
	for _, c := range h.pub.calls {
		assert.Equal(t, want, c.message)
	}
	line := h.report(t, "m1")
	assert.Equal(t, "sent", line["outcome"])
	assert.Equal(t, "done", line["action"])
	assert.EqualValues(t, 3, line["endpoints"])
	assert.Equal(t, "p1", line["pushId"])
}

func TestEndpointArnPushGoesToThatEndpointOnly(t *testing.T) {
	h := newHarness()
	h.reg.err = errors.New("registry must not be called")
	resp := h.handle(t, msg("m1", `{"id":"p1","endpointArn":"`+ep2+`","body":"b"}`))
	assert.Empty(t, resp.BatchItemFailures)
	require.Len(t, h.pub.calls, 1)
	assert.Equal(t, ep2, h.pub.calls[0].endpoint)
	assert.Equal(t, "", h.log.get("p1", ep2).userID)
}

func TestEachMessageOfABatchHasItsOwnFate(t *testing.T) {
	h := newHarness()
	h.pub.errs[ep2] = &types.ThrottledException{Message: strPtr("slow down")}
	resp := h.handle(t,
		msg("ok-1", `{"id":"a","endpointArn":"`+ep1+`","title":"t"}`),
		msg("throttled", `{"id":"b","endpointArn":"`+ep2+`","title":"t"}`),
		msg("ok-2", `{"id":"c","endpointArn":"`+ep3+`","title":"t"}`),
		msg("bad-json", `{"id":"d",`),
	)
	assert.Equal(t, []string{"throttled"}, failedIDs(resp), "only the transient failure comes back")
	require.Len(t, h.queue.parked, 1, "the bad message is parked at once, with its reason")
	assert.Equal(t, `{"id":"d",`, h.queue.parked[0].Body)
	assert.Equal(t, "retry", h.report(t, "throttled")["action"])
	assert.Equal(t, "parked", h.report(t, "bad-json")["action"])
}

func TestDisabledEndpointRecordedAndNotRetried(t *testing.T) {
	h := newHarness()
	h.pub.errs[ep2] = &types.EndpointDisabledException{Message: strPtr("Endpoint is disabled")}
	m := msg("m1", `{"id":"p1","userId":"u-42","title":"t"}`)
	resp := h.handle(t, m)
	assert.Empty(t, resp.BatchItemFailures, "a disabled endpoint is permanent: no retry")
	rec := h.log.get("p1", ep2)
	assert.Equal(t, "failed", rec.status)
	assert.Contains(t, rec.err, "EndpointDisabled")
	assert.Equal(t, "sent", h.log.get("p1", ep1).status)
	assert.Equal(t, "sent", h.log.get("p1", ep3).status)
	assert.Equal(t, "partial", h.report(t, "m1")["outcome"])

	// A redelivery (e.g. after a crash) does not try the disabled endpoint again.
	h.handle(t, m)
	assert.Equal(t, 1, h.pub.count(ep2))

	// The registry marks the device disabled, so the user's next push skips it without a
	// publish, and the delivery log says why.
	assert.Equal(t, "EndpointDisabled: Endpoint is disabled", h.reg.disabled[ep2])
	h.handle(t, msg("m2", `{"id":"p2","userId":"u-42","title":"t"}`))
	assert.Equal(t, 1, h.pub.count(ep2), "no publish to a disabled device")
	skipped := h.log.get("p2", ep2)
	assert.Equal(t, "skipped", skipped.status)
	assert.Equal(t, "device disabled: EndpointDisabled: Endpoint is disabled", skipped.err)
	assert.Equal(t, "sent", h.log.get("p2", ep1).status)
	report := h.report(t, "m2")
	assert.Equal(t, "partial", report["outcome"])
	assert.EqualValues(t, 1, report["skipped"])
}

func TestOnlyDeadEndpointsAreDisabledInTheRegistry(t *testing.T) {
	for perr, gone := range map[error]bool{
		&types.EndpointDisabledException{}:                                                                           true,
		&types.NotFoundException{Message: strPtr("Endpoint does not exist")}:                                         true,
		&smithy.GenericAPIError{Code: "InvalidParameter", Message: "No endpoint found for the target arn specified"}: true,
		&smithy.GenericAPIError{Code: "InvalidParameter", Message: "Message too long"}:                               false,
		&types.InvalidParameterValueException{}:                                                                      false,
	} {
		h := newHarness()
		h.pub.errs[ep1] = perr
		h.handle(t, msg("m1", `{"id":"p","userId":"u-1","title":"t"}`))
		_, disabled := h.reg.disabled[ep1]
		assert.Equal(t, gone, disabled, "%T %v", perr, perr)
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	for _, perr := range []error{
		&types.EndpointDisabledException{},
		&types.NotFoundException{},
		&types.InvalidParameterException{},
		&types.InvalidParameterValueException{},
		&smithy.GenericAPIError{Code: "InvalidParameter", Message: "bad token"},
	} {
		t.Run(fmt.Sprintf("%T", perr), func(t *testing.T) {
			h := newHarness()
			h.pub.errs[ep1] = perr
			resp := h.handle(t, msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`))
			assert.Empty(t, resp.BatchItemFailures)
			assert.Equal(t, 1, h.pub.count(ep1))
			assert.Equal(t, "failed", h.log.get("p", ep1).status)
			assert.Equal(t, "failed", h.report(t, "m1")["outcome"])
		})
	}
}

func TestRedeliveredMessageDoesNotPublishTwice(t *testing.T) {
	h := newHarness()
	m := msg("m1", `{"id":"p1","userId":"u-42","title":"t"}`)
	for range 3 {
		assert.Empty(t, h.handle(t, m).BatchItemFailures)
	}
	for _, ep := range []string{ep1, ep2, ep3} {
		assert.Equal(t, 1, h.pub.count(ep), ep)
	}
	lines := h.logLines(t, "push processed")
	require.Len(t, lines, 3)
	assert.Equal(t, "duplicate", lines[2]["outcome"])
	assert.EqualValues(t, 3, lines[2]["duplicates"])
}

func TestDuplicateWithoutIDUsesMessageID(t *testing.T) {
	h := newHarness()
	m := msg("sqs-id-7", `{"endpointArn":"`+ep1+`","title":"t"}`)
	h.handle(t, m)
	h.handle(t, m)
	assert.Equal(t, 1, h.pub.count(ep1))
	assert.Equal(t, "sent", h.log.get("sqs-id-7", ep1).status)
}

// Errors that prove nothing was published: safe to retry under either guarantee.
var refusedErrors = map[string]error{
	"Throttled":     &types.ThrottledException{},
	"Throttling":    &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient},
	"KMSThrottling": &types.KMSThrottlingException{},
	"Authorization": &types.AuthorizationErrorException{},
	"http 429": &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 429}}, Err: errors.New("too many")},
	"connection refused": &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
}

// Errors after which nobody knows whether SNS published.
var ambiguousErrors = map[string]error{
	"InternalError": &types.InternalErrorException{},
	"http 503": &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("unavailable")},
	"deadline":    context.DeadlineExceeded,
	"reset":       &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")},
	"unknown":     errors.New("something odd"),
	"no response": nil, // a publish that returned no message id
}

func TestClassifyPublish(t *testing.T) {
	for name, err := range refusedErrors {
		assert.Equal(t, delivery.Retryable, delivery.ClassifyPublish(fmt.Errorf("wrapped: %w", err)), name)
	}
	for name, err := range ambiguousErrors {
		if err != nil {
			assert.Equal(t, delivery.Ambiguous, delivery.ClassifyPublish(fmt.Errorf("wrapped: %w", err)), name)
		}
	}
	assert.Equal(t, delivery.Permanent, delivery.ClassifyPublish(fmt.Errorf("x: %w", &types.EndpointDisabledException{})))
	assert.Equal(t, delivery.Class(""), delivery.ClassifyPublish(nil))
	assert.Equal(t, "EndpointDisabled: gone", delivery.Reason(&types.EndpointDisabledException{Message: strPtr("gone")}))
	assert.Equal(t, "timeout", delivery.Reason(fmt.Errorf("x: %w", context.DeadlineExceeded)))
}

func TestClassifyStore(t *testing.T) {
	assert.Equal(t, delivery.Permanent, delivery.ClassifyStore(&smithy.GenericAPIError{Code: "ValidationException",
		Message: "Hash primary key values must be under 2048 bytes", Fault: smithy.FaultClient}))
	assert.Equal(t, delivery.Retryable, delivery.ClassifyStore(&smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Fault: smithy.FaultClient}))
	assert.Equal(t, delivery.Retryable, delivery.ClassifyStore(context.DeadlineExceeded), "log writes are safe to repeat")
}

func TestRefusedPublishIsRetriedOnlyForWhatDidNotGoOut(t *testing.T) {
	for name, perr := range refusedErrors {
		t.Run(name, func(t *testing.T) {
			h := newHarness()
			h.pub.errs[ep2] = perr
			h.pub.once = true
			m := msg("m1", `{"id":"p1","userId":"u-42","title":"t"}`)

			assert.Equal(t, []string{"m1"}, failedIDs(h.handle(t, m)))
			assert.Equal(t, 1, h.pub.count(ep2), "refused errors are not retried within the invocation")
			rec := h.log.get("p1", ep2)
			assert.Equal(t, "retry", rec.status)
			assert.Empty(t, rec.snsID)
			assert.NotEmpty(t, rec.err)

			m.Attributes["ApproximateReceiveCount"] = "2"
			assert.Empty(t, h.handle(t, m).BatchItemFailures)
			assert.Equal(t, 2, h.pub.count(ep2))
			assert.Equal(t, 1, h.pub.count(ep1))
			assert.Equal(t, 1, h.pub.count(ep3))
			rec = h.log.get("p1", ep2)
			assert.Equal(t, "sent", rec.status)
			assert.Equal(t, 2, rec.attempts)
		})
	}
}

func TestAmbiguousPublishAtLeastOnceIsSentAgain(t *testing.T) {
	for name, perr := range ambiguousErrors {
		t.Run(name, func(t *testing.T) {
			h := newHarness()
			h.svc.PublishAttempts = 1
			if perr == nil {
				h.svc.Publisher = publisherFunc(func(context.Context, string, string) (string, error) { return "", nil })
			} else {
				h.pub.errs[ep1] = perr
			}
			m := msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)
			assert.Equal(t, []string{"m1"}, failedIDs(h.handle(t, m)))
			assert.Equal(t, "retry", h.log.get("p", ep1).status, "not sent: a later attempt publishes again")
		})
	}

	// Within the invocation, one more try first (PublishAttempts, default 2).
	h := newHarness()
	h.pub.errs[ep1] = &types.InternalErrorException{}
	h.pub.once = true
	assert.Empty(t, h.handle(t, msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)).BatchItemFailures)
	assert.Equal(t, 2, h.pub.count(ep1))
	assert.Equal(t, "sent", h.log.get("p", ep1).status)
	assert.Equal(t, 2, h.log.get("p", ep1).publishes, "the record tells the device may have it twice")
}

// The record's publishes counts every publish SNS may have taken, including one made just
// before the sender died, ahead of its outcome: a crash duplicate shows as 2.
func TestPublishesCountsEveryPublishEvenAcrossACrash(t *testing.T) {
	m := msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)
	// pastTheLease is the redelivery after the dead attempt's lease ended.
	pastTheLease := func(h *harness) { h.svc.Now = func() time.Time { return now.Add(time.Hour) } }
	// diesAfter is a publisher that SNS takes every call of, and that kills the sender right
	// after call n (a panic, before anything is recorded); other calls answer err (nil: sent).
	diesAfter := func(n int, err error) (delivery.Publisher, *atomic.Int32) {
		var calls atomic.Int32
		return publisherFunc(func(context.Context, string, string) (string, error) {
			c := int(calls.Add(1))
			if c == n {
				panic("the sender died after SNS took the publish")
			}
			if err != nil && c < n {
				return "", err
			}
			return "sns-" + strconv.Itoa(c), nil
		}), &calls
	}

	t.Run("the sender dies between the publish and its record", func(t *testing.T) {
		h := newHarness()
		pub, calls := diesAfter(1, nil)
		h.svc.Publisher = pub
		assert.Equal(t, []string{"m1"}, failedIDs(h.handle(t, m)))
		rec := h.log.get("p", ep1)
		require.Equal(t, "sending", rec.status, "nothing recorded after the publish")
		assert.Equal(t, 1, rec.publishes, "counted before it was made")

		pastTheLease(h)
		assert.Empty(t, h.handle(t, m).BatchItemFailures)
		assert.Equal(t, int32(2), calls.Load(), "at least once: published again")
		rec = h.log.get("p", ep1)
		assert.Equal(t, "sent", rec.status)
		assert.Equal(t, 2, rec.attempts)
		assert.Equal(t, 2, rec.publishes, "the record tells the device may have it twice")
	})
	t.Run("the outcome cannot be written, then the message comes again", func(t *testing.T) {
		h := newHarness()
		h.log.markErr = errors.New("dynamodb unavailable")
		h.handle(t, m)
		require.Equal(t, "sending", h.log.get("p", ep1).status)
		h.log.markErr = nil
		pastTheLease(h)
		h.handle(t, m)
		assert.Equal(t, 2, h.pub.count(ep1))
		assert.Equal(t, 2, h.log.get("p", ep1).publishes)
	})
	t.Run("a publish made again within the attempt is counted before it is made", func(t *testing.T) {
		h := newHarness()
		pub, calls := diesAfter(2, &types.InternalErrorException{}) // 1: outcome unknown; 2: taken, then death
		h.svc.Publisher = pub
		h.handle(t, m)
		assert.Equal(t, int32(2), calls.Load())
		assert.Equal(t, 2, h.log.get("p", ep1).publishes)
		pastTheLease(h)
		h.handle(t, m)
		assert.Equal(t, int32(3), calls.Load())
		rec := h.log.get("p", ep1)
		assert.Equal(t, "sent", rec.status)
		assert.Equal(t, 3, rec.publishes)
	})
	t.Run("a publish that cannot be counted is not made", func(t *testing.T) {
		h := newHarness()
		h.pub.errs[ep1] = &types.InternalErrorException{}
		h.pub.once = true
		h.log.markErr = errors.New("dynamodb unavailable")
		h.handle(t, m)
		assert.Equal(t, 1, h.pub.count(ep1), "no second publish within the attempt")
		assert.Equal(t, 1, h.log.get("p", ep1).publishes)
	})
}

// Nothing published, nothing counted: a disabled device, an expired push, an at-most-once
// takeover of a dead attempt (only the dead attempt's publish stays counted) and a claim the
// time budget interrupted.
func TestPublishesCountsNoPublishThatWasNotMade(t *testing.T) {
	t.Run("disabled device", func(t *testing.T) {
		h := newHarness()
		h.reg.disabled = map[string]string{ep1: "EndpointDisabled"}
		h.handle(t, msg("m1", `{"id":"p","userId":"u-1","title":"t"}`))
		rec := h.log.get("p", ep1)
		assert.Equal(t, "skipped", rec.status)
		assert.Zero(t, rec.publishes)
	})
	t.Run("expired", func(t *testing.T) {
		h := newHarness()
		h.svc.MaxLateness = time.Hour
		h.handle(t, msg("m1", `{"id":"p","userId":"u-1","title":"t","dueAt":"2026-11-29T09:00:00Z"}`))
		rec := h.log.get("p", ep1)
		assert.Equal(t, "expired", rec.status)
		assert.Zero(t, rec.publishes)
	})
	t.Run("at most once after a dead attempt", func(t *testing.T) {
		h := newHarness()
		h.svc.Guarantee = push.DeliveryAtMostOnce
		h.log.set("p", ep1, record{status: "sending", leaseUntil: now.Add(-time.Millisecond).UnixMilli(), token: "dead", attempts: 1, publishes: 1})
		h.handle(t, msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`))
		rec := h.log.get("p", ep1)
		assert.Equal(t, "uncertain", rec.status)
		assert.Equal(t, 1, rec.publishes, "the dead attempt's")
	})
	t.Run("claim interrupted", func(t *testing.T) {
		h := newHarness()
		h.svc.Now = time.Now
		h.log.hangAfterClaim = true
		ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
		defer cancel()
		_, err := h.svc.Handle(ctx, event(msg("m1", `{"id":"p","userId":"u-1","title":"t"}`)))
		require.NoError(t, err)
		rec := h.log.get("p", ep1)
		assert.Equal(t, "retry", rec.status)
		assert.Zero(t, rec.publishes)
	})
}

func TestAmbiguousPublishAtMostOnceIsNeverSentAgain(t *testing.T) {
	for _, tc := range []struct{ name, stack, field string }{
		{"stack default", push.DeliveryAtMostOnce, ""},
		{"per push", "", `,"delivery":"at-most-once"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			h.svc.Guarantee = tc.stack
			h.pub.errs[ep1] = &types.InternalErrorException{}
			m := msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"`+tc.field+`}`)
			assert.Empty(t, h.handle(t, m).BatchItemFailures, "nothing to retry")
			assert.Equal(t, 1, h.pub.count(ep1), "no second try, not even within the invocation")
			rec := h.log.get("p", ep1)
			assert.Equal(t, "uncertain", rec.status)
			assert.Contains(t, rec.err, "outcome unknown")
			h.handle(t, m)
			assert.Equal(t, 1, h.pub.count(ep1))
		})
	}
}

// The reproduction: a record left "sending" by an attempt that died, then the push.
func TestAbandonedClaimIsTakenOverNotParked(t *testing.T) {
	m := msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)
	m.Attributes["ApproximateReceiveCount"] = "5" // even on the last receive the queue allows
	abandoned := record{status: "sending", leaseUntil: now.Add(-time.Millisecond).UnixMilli(), token: "dead", attempts: 1}

	t.Run("at least once: sent again", func(t *testing.T) {
		h := newHarness()
		h.log.set("p", ep1, abandoned)
		assert.Empty(t, h.handle(t, m).BatchItemFailures)
		assert.Equal(t, 1, h.pub.count(ep1))
		rec := h.log.get("p", ep1)
		assert.Equal(t, "sent", rec.status)
		assert.Equal(t, 2, rec.attempts)
		assert.Empty(t, h.queue.parked)
		assert.Len(t, h.logLines(t, "an earlier attempt ended without recording an outcome: sending again (at-least-once)"), 1)
	})
	t.Run("at most once: recorded uncertain, not sent", func(t *testing.T) {
		h := newHarness()
		h.svc.Guarantee = push.DeliveryAtMostOnce
		h.log.set("p", ep1, abandoned)
		assert.Empty(t, h.handle(t, m).BatchItemFailures)
		assert.Zero(t, h.pub.count(ep1))
		assert.Equal(t, "uncertain", h.log.get("p", ep1).status)
		assert.Empty(t, h.queue.parked)
	})
}

func TestLeaseEndsWithTheInvocationBeforeTheQueueRedelivers(t *testing.T) {
	// Lambda stops an invocation at its deadline; the lease is that deadline plus the skew
	// allowance, so a redelivery after the visibility timeout (6 × the function timeout)
	// always finds it expired.
	h := newHarness()
	h.svc.Now = time.Now
	timeout := 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	_, err := h.svc.Handle(ctx, event(msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)))
	require.NoError(t, err)
	lease := time.UnixMilli(h.log.get("p", ep1).leaseUntil).Sub(start)
	assert.InDelta(t, (timeout + delivery.DefaultLeaseSkew).Seconds(), lease.Seconds(), 0.2)
	assert.Less(t, lease, 6*timeout)
}

func TestDuplicateInFlightIsRequeuedWithoutUsingAReceive(t *testing.T) {
	h := newHarness()
	h.log.set("p", ep1, record{status: "sending", leaseUntil: time.Now().Add(4 * time.Second).UnixMilli(), token: "other"})
	h.svc.Now = time.Now
	m := msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)
	m.Attributes["ApproximateReceiveCount"] = "5"
	resp := h.handle(t, m)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Zero(t, h.pub.count(ep1))
	require.Len(t, h.queue.requeued, 1)
	assert.Empty(t, h.queue.parked, "a push another invocation is sending is not parked")
	assert.InDelta(t, 4, h.queue.requeued[0].Delay.Seconds(), 1, "back when the other lease ends")
	assert.JSONEq(t, `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`, h.queue.requeued[0].Body)
	assert.Equal(t, "requeued", h.report(t, "m1")["action"])
}

func TestConcurrentDuplicatesPublishOnce(t *testing.T) {
	h := newHarness()
	h.svc.Now = time.Now
	h.pub.delay = 20 * time.Millisecond
	body := `{"id":"p","userId":"u-42","title":"t"}`
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = h.svc.Handle(context.Background(), event(msg(fmt.Sprint("copy-", i), body)))
		}()
	}
	wg.Wait()
	for _, ep := range []string{ep1, ep2, ep3} {
		assert.Equal(t, 1, h.pub.count(ep), ep)
	}
	assert.NotEmpty(t, h.queue.requeued, "the copies that lost the race come back later")
}

func TestInvalidMessagesAreParkedAtOnceWithTheirReason(t *testing.T) {
	cases := []struct{ name, body, id, field, errText string }{
		{"malformed JSON", `{"id":"bad-1","userId":"u-1","title":`, "", "$", "malformed JSON"},
		{"unknown field", `{"id":"bad-2","userId":"u-1","title":"t","badge":3}`, "bad-2", "badge", "unknown field"},
		{"missing recipient", `{"id":"bad-3","title":"t"}`, "bad-3", "userId", "missing recipient"},
		{"empty title and body", `{"userId":"u-1","title":"","body":""}`, "", "title", "both empty"},
		{"oversize payload", `{"id":"bad-5","userId":"u-1","title":"t","body":"` + strings.Repeat("x", 5000) + `"}`, "bad-5", "body", "oversize payload"},
		{"reserved data key", `{"id":"bad-6","userId":"u-1","title":"t","data":{"pushId":"x"}}`, "bad-6", "data.pushId", "reserved"},
		{"binary garbage", "\x00\xff\xfe", "", "$", "is not valid UTF-8"},
		{"empty body", ``, "", "$", "empty message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			bad := msg("bad", tc.body)
			bad.MessageAttributes = map[string]events.SQSMessageAttribute{"source": {StringValue: strPtr("billing"), DataType: "String"}}
			resp := h.handle(t, bad, msg("good", `{"userId":"u-1","title":"t"}`))
			assert.Empty(t, resp.BatchItemFailures)
			assert.Equal(t, 1, h.pub.count(ep1), "the good neighbour is still sent")

			require.Len(t, h.queue.parked, 1)
			parked := h.queue.parked[0]
			assert.Equal(t, tc.body, parked.Body, "parked as received")
			assert.Equal(t, "billing", parked.Attributes["source"].Value, "with its own attributes")
			assert.Contains(t, parked.Attributes["parkReason"].Value, tc.errText)
			assert.Equal(t, tc.field, parked.Attributes["invalidField"].Value)
			wantID := tc.id
			if wantID == "" {
				wantID = "bad"
			}
			assert.Equal(t, wantID, parked.Attributes["pushId"].Value)

			line := h.report(t, "bad")
			assert.Equal(t, wantID, line["pushId"], "logged under the push's own id")
			assert.Equal(t, "invalid", line["outcome"])
			assert.Equal(t, "parked", line["action"])
			assert.Equal(t, "ERROR", line["level"])
			assert.Equal(t, tc.field, line["field"])
			assert.Contains(t, line["error"], tc.errText)
		})
	}
}

func TestInvalidMessageIsRetriedWhenItCannotBeParked(t *testing.T) {
	h := newHarness()
	h.queue.err = errors.New("sqs unavailable")
	resp := h.handle(t, msg("bad", `{"title":"t"}`))
	assert.Equal(t, []string{"bad"}, failedIDs(resp), "never dropped: the queue's redrive policy parks it")
	assert.Contains(t, h.report(t, "bad")["reason"], "parking failed")
}

func TestUserWithoutDevicesIsLoggedNotRetried(t *testing.T) {
	h := newHarness()
	assert.Empty(t, h.handle(t, msg("m1", `{"id":"p","userId":"nobody","title":"t"}`)).BatchItemFailures)
	assert.Empty(t, h.pub.calls)
	assert.Equal(t, "no_devices", h.report(t, "m1")["outcome"])
}

func TestTransientFailuresAreRetriedThenParkedWithTheReason(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness)
		want  string
	}{
		{"registry", func(h *harness) { h.reg.err = errors.New("dynamodb unavailable") }, "device registry: dynamodb unavailable"},
		{"claim", func(h *harness) {
			h.log.claimErr = func(delivery.Key) error { return errors.New("dynamodb unavailable") }
		}, "dynamodb unavailable"},
		{"publish", func(h *harness) { h.pub.errs[ep1] = &types.ThrottledException{Message: strPtr("Rate exceeded")} }, "Throttled: Rate exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			tc.setup(h)
			m := msg("m1", `{"id":"p","userId":"u-1","title":"t"}`)
			for receive := 1; receive < 5; receive++ {
				m.Attributes["ApproximateReceiveCount"] = strconv.Itoa(receive)
				assert.Equal(t, []string{"m1"}, failedIDs(h.handle(t, m)), "receive %d", receive)
			}
			assert.Empty(t, h.queue.parked)
			m.Attributes["ApproximateReceiveCount"] = "5"
			assert.Empty(t, h.handle(t, m).BatchItemFailures, "parked by the sender, not by the queue")
			require.Len(t, h.queue.parked, 1)
			parked := h.queue.parked[0]
			assert.Contains(t, parked.Attributes["parkReason"].Value, "gave up after 5 attempts: ")
			assert.Contains(t, parked.Attributes["parkReason"].Value, tc.want)
			assert.Equal(t, "p", parked.Attributes["pushId"].Value)
			assert.JSONEq(t, `{"id":"p","userId":"u-1","title":"t"}`, parked.Body)
			assert.Equal(t, "parked", h.report(t, "m1")["action"])
		})
	}
}

func TestDeliveryLogValidationErrorIsPermanent(t *testing.T) {
	h := newHarness()
	h.log.claimErr = func(k delivery.Key) error {
		if k.EndpointARN == ep2 {
			return &smithy.GenericAPIError{Code: "ValidationException", Message: "key too large", Fault: smithy.FaultClient}
		}
		return nil
	}
	resp := h.handle(t, msg("m1", `{"id":"p","userId":"u-42","title":"t"}`))
	assert.Empty(t, resp.BatchItemFailures, "retrying cannot help")
	assert.Zero(t, h.pub.count(ep2), "nothing is published that cannot be recorded")
	assert.Equal(t, 1, h.pub.count(ep1))
	assert.Equal(t, "partial", h.report(t, "m1")["outcome"])
}

func TestConfirmedPublishStaysSentWhenRecordingFails(t *testing.T) {
	h := newHarness()
	h.log.markErr = errors.New("dynamodb unavailable")
	resp := h.handle(t, msg("m1", `{"userId":"u-1","title":"t"}`))
	assert.Empty(t, resp.BatchItemFailures, "retrying would push twice")
	assert.Len(t, h.pub.calls, 1)
	assert.Len(t, h.logLines(t, "published but could not record it"), 1)
}

func TestPanicIsIsolatedToItsMessage(t *testing.T) {
	h := newHarness()
	h.svc.Publisher = publisherFunc(func(_ context.Context, ep, _ string) (string, error) {
		if ep == ep2 {
			panic("boom")
		}
		return "id", nil
	})
	resp := h.handle(t,
		msg("m1", `{"endpointArn":"`+ep1+`","title":"t"}`),
		msg("m2", `{"id":"p2","endpointArn":"`+ep2+`","title":"t"}`),
	)
	assert.Equal(t, []string{"m2"}, failedIDs(resp))
	assert.Len(t, h.logLines(t, "sender panic"), 1)
}

func str(v string) events.SQSMessageAttribute {
	return events.SQSMessageAttribute{StringValue: &v, DataType: "String"}
}

func num(v string) events.SQSMessageAttribute {
	return events.SQSMessageAttribute{StringValue: &v, DataType: "Number"}
}

func TestSchedulerAttributesAreReadOnlyFromTheScheduler(t *testing.T) {
	sent := strconv.FormatInt(now.Add(-1500*time.Millisecond).UnixMilli(), 10)
	scheduler := schedulerRoleID + ":states-session"
	cases := []struct {
		name     string
		body     string
		senderID string
		attrs    map[string]events.SQSMessageAttribute
		pushID   string
		source   string
		lateness int64
	}{
		{
			name: "sendAt attribute", body: `{"userId":"u-1","title":"t","dueAt":"2026-12-01T08:00:00Z"}`, senderID: scheduler,
			attrs: map[string]events.SQSMessageAttribute{
				"executionName": str("exec-1"), "scheduledAt": str("2026-11-30T09:00:00Z"),
				"sendAt": str("2026-12-01T09:00:00Z")},
			pushID: "exec-1", source: "sendAt", lateness: 2500,
		},
		{
			name: "scheduledAt + delaySeconds", body: `{"id":"own-id","userId":"u-1","title":"t"}`, senderID: scheduler,
			attrs: map[string]events.SQSMessageAttribute{
				"executionName": str("exec-2"), "scheduledAt": str("2026-12-01T08:55:00Z"),
				"delaySeconds": num("300")},
			pushID: "own-id", source: "delaySeconds", lateness: 2500,
		},
		{
			name: "forged by another producer", body: `{"userId":"u-1","title":"t"}`, senderID: "AROAOTHERROLE:orders-api",
			attrs: map[string]events.SQSMessageAttribute{
				"executionName": str("someone-elses-push"), "sendAt": str("2026-12-01T09:00:02Z")},
			pushID: "m1", source: "sentTimestamp", lateness: 1500,
		},
		{
			name: "a role id that merely starts the same", body: `{"userId":"u-1","title":"t"}`, senderID: schedulerRoleID + "X:s",
			attrs:  map[string]events.SQSMessageAttribute{"executionName": str("forged")},
			pushID: "m1", source: "sentTimestamp", lateness: 1500,
		},
		{
			name: "body dueAt", body: `{"userId":"u-1","title":"t","dueAt":"2026-12-01T09:00:02Z"}`,
			pushID: "m1", source: "dueAt", lateness: 500,
		},
		{
			name: "malformed attribute falls through", body: `{"userId":"u-1","title":"t"}`, senderID: scheduler,
			attrs:  map[string]events.SQSMessageAttribute{"sendAt": str("garbage")},
			pushID: "m1", source: "sentTimestamp", lateness: 1500,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			m := msg("m1", tc.body)
			m.MessageAttributes = tc.attrs
			m.Attributes["SentTimestamp"] = sent
			m.Attributes["SenderId"] = tc.senderID
			res := h.svc.Process(context.Background(), []events.SQSMessage{m})
			require.Len(t, res, 1)
			assert.Equal(t, tc.pushID, res[0].PushID)
			assert.Equal(t, tc.source, res[0].DueSource)
			assert.Equal(t, tc.lateness, res[0].LatenessMs)
			line := h.report(t, "m1")
			assert.EqualValues(t, tc.lateness, line["latenessMs"])
			assert.Equal(t, tc.pushID, line["pushId"])
			assert.Equal(t, "sent", h.log.get(tc.pushID, ep1).status)
		})
	}
}

func TestLatenessIsMeasuredAtSNSConfirmation(t *testing.T) {
	h := newHarness()
	var clock atomic.Int64
	clock.Store(now.UnixMilli())
	h.svc.Now = func() time.Time { return time.UnixMilli(clock.Load()).UTC() }
	h.svc.Publisher = publisherFunc(func(context.Context, string, string) (string, error) {
		clock.Add(700) // the publish takes 700 ms
		return "id", nil
	})
	m := msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t","dueAt":"2026-12-01T09:00:02Z"}`)
	res := h.svc.Process(context.Background(), []events.SQSMessage{m})
	assert.EqualValues(t, 500+700, res[0].LatenessMs, "from the due time to SNS's answer")
	require.NotNil(t, h.log.get("p", ep1).lateness)
	assert.EqualValues(t, 1200, *h.log.get("p", ep1).lateness, "recorded with the delivery")
}

func TestLogsCarryNoPushContent(t *testing.T) {
	h := newHarness()
	h.pub.errs[ep2] = &types.ThrottledException{}
	h.handle(t, msg("m1", `{"userId":"u-42","title":"SECRET-TITLE","body":"SECRET-BODY","data":{"k":"SECRET-DATA"}}`),
		msg("m2", `{"userId":"u-42","title":"SECRET-TITLE","bogus":"SECRET-BOGUS"}`))
	for _, s := range []string{"SECRET-TITLE", "SECRET-BODY", "SECRET-DATA", "SECRET-BOGUS"} {
		assert.NotContains(t, h.logs.String(), s)
	}
}

func devices(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/d%03d", i)
	}
	return out
}

func TestLargeFanOutIsConcurrentAndBounded(t *testing.T) {
	h := newHarness()
	h.reg.devices["many"] = devices(500)
	h.pub.delay = 2 * time.Millisecond
	h.svc.FanOut = 16
	start := time.Now()
	resp := h.handle(t, msg("m1", `{"id":"p","userId":"many","title":"t"}`))
	elapsed := time.Since(start)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, 500, h.pub.total())
	for _, ep := range devices(500) {
		assert.Equal(t, "sent", h.log.get("p", ep).status)
	}
	assert.Equal(t, 16, h.pub.maxInFlight, "at most FanOut publishes in flight")
	t.Logf("500 endpoints in %v", elapsed)
}

func TestFanOutCutShortByTheDeadlineResumesWithoutResending(t *testing.T) {
	h := newHarness()
	h.svc.Now = time.Now
	h.reg.devices["many"] = devices(500)
	h.pub.delay = 20 * time.Millisecond
	h.svc.FanOut = 8
	m := msg("m1", `{"id":"p","userId":"many","title":"t","dueAt":"2026-11-01T00:00:00Z"}`)

	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	start := time.Now()
	resp, err := h.svc.Handle(ctx, event(m))
	require.NoError(t, err)
	deadline, _ := ctx.Deadline()
	assert.True(t, time.Now().Before(deadline), "the response is returned before the deadline (took %v)", time.Since(start))
	assert.Empty(t, resp.BatchItemFailures, "time running out is not the push's fault")
	first := h.pub.total()
	assert.Greater(t, first, 0)
	assert.Less(t, first, 500)
	require.Len(t, h.queue.requeued, 1, "the rest goes back on the queue")
	line := h.report(t, "m1")
	assert.Equal(t, "requeued", line["action"])
	assert.EqualValues(t, 500-first, line["pending"])
	cont := h.queue.requeued[0]
	assert.JSONEq(t, `{"id":"p","userId":"many","title":"t","dueAt":"2026-11-01T00:00:00Z"}`, cont.Body)

	// The requeued push, with a full budget, finishes the others only.
	h.queue.requeued = nil
	resp = h.handle(t, msg("m2", cont.Body))
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, 500, h.pub.total())
	for _, ep := range devices(500) {
		assert.Equal(t, 1, h.pub.count(ep), ep)
	}
	assert.EqualValues(t, first, h.report(t, "m2")["duplicates"])
}

func TestSlowBatchReturnsBeforeTheDeadlineWithEveryMessageAccountedFor(t *testing.T) {
	h := newHarness()
	h.svc.Now = time.Now
	h.pub.delay = 150 * time.Millisecond
	var ms []events.SQSMessage
	for i := range 10 {
		ms = append(ms, msg(fmt.Sprint("m", i), fmt.Sprintf(`{"id":"p%d","userId":"u-42","title":"t"}`, i)))
	}
	h.svc.FanOut = 4
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := h.svc.Handle(ctx, event(ms...))
	require.NoError(t, err)
	deadline, _ := ctx.Deadline()
	assert.True(t, time.Now().Before(deadline))
	assert.Empty(t, resp.BatchItemFailures)
	sent, requeued := 0, 0
	for i := range 10 {
		switch h.report(t, fmt.Sprint("m", i))["action"] {
		case "done":
			sent++
		case "requeued":
			requeued++
		default:
			t.Errorf("message m%d: %v", i, h.report(t, fmt.Sprint("m", i)))
		}
	}
	assert.Equal(t, 10, sent+requeued)
	assert.Equal(t, requeued, len(h.queue.requeued))
	for _, rec := range h.log.recs {
		assert.NotEqual(t, "sending", rec.status, "no claim is left open")
	}
}

func TestCallsCutShortByTheBudgetAreRequeuedNotFailed(t *testing.T) {
	run := func(h *harness, m events.SQSMessage) {
		ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
		defer cancel()
		_, err := h.svc.Handle(ctx, event(m))
		require.NoError(t, err)
	}
	m := msg("m1", `{"id":"p","userId":"u-1","title":"t"}`)
	m.Attributes["ApproximateReceiveCount"] = "5"

	t.Run("a registry lookup", func(t *testing.T) {
		h := newHarness()
		h.reg.hang = true
		run(h, m)
		assert.Empty(t, h.queue.parked, "a slow lookup is not the push's failure")
		require.Len(t, h.queue.requeued, 1)
		assert.Equal(t, "1", h.queue.requeued[0].Attributes["requeues"].Value)
		assert.Equal(t, "requeued", h.report(t, "m1")["action"])
	})
	t.Run("a claim whose answer was lost is released", func(t *testing.T) {
		h := newHarness()
		h.svc.Now = time.Now
		h.log.hangAfterClaim = true
		run(h, m)
		assert.Zero(t, h.pub.total())
		require.Len(t, h.queue.requeued, 1)
		assert.Equal(t, "retry", h.log.get("p", ep1).status, "released: nothing was published")
		// The next attempt claims it cleanly: not taken for a publish that may have happened.
		h.log.hangAfterClaim = false
		h.svc.Guarantee = push.DeliveryAtMostOnce
		h.handle(t, msg("m2", h.queue.requeued[0].Body))
		assert.Equal(t, 1, h.pub.count(ep1))
		assert.Equal(t, "sent", h.log.get("p", ep1).status)
	})
	t.Run("without progress, only so often", func(t *testing.T) {
		h := newHarness()
		h.reg.hang = true
		stuck := m
		stuck.MessageAttributes = map[string]events.SQSMessageAttribute{"requeues": num(strconv.Itoa(delivery.MaxRequeuesWithoutProgress))}
		run(h, stuck)
		assert.Empty(t, h.queue.requeued)
		require.Len(t, h.queue.parked, 1, "counted as a failure: on the last receive, parked with the reason")
		assert.Contains(t, h.queue.parked[0].Attributes["parkReason"].Value, "cut short by the time budget")
	})
}

func TestRequeueCountResetsWithProgress(t *testing.T) {
	h := newHarness()
	h.svc.Now = time.Now
	h.reg.devices["many"] = devices(500)
	h.pub.delay = 20 * time.Millisecond
	h.svc.FanOut = 8
	m := msg("m1", `{"id":"p","userId":"many","title":"t"}`)
	m.MessageAttributes = map[string]events.SQSMessageAttribute{"requeues": num("7")}
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	_, err := h.svc.Handle(ctx, event(m))
	require.NoError(t, err)
	require.Len(t, h.queue.requeued, 1)
	assert.Equal(t, "0", h.queue.requeued[0].Attributes["requeues"].Value, "some endpoints were done")
}

func TestExpiredContextStartsNothingAndLosesNothing(t *testing.T) {
	h := newHarness()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	resp, err := h.svc.Handle(ctx, event(msg("m1", `{"userId":"u-42","title":"t"}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"m1"}, failedIDs(resp), "nothing could be written: the queue brings it back")
	assert.Empty(t, h.pub.calls)
	assert.Empty(t, h.log.recs)
}

type publisherFunc func(ctx context.Context, ep, msg string) (string, error)

func (f publisherFunc) Publish(ctx context.Context, ep, msg string) (string, error) {
	return f(ctx, ep, msg)
}

func strPtr(s string) *string { return &s }

func BenchmarkHandle(b *testing.B) {
	records := make([]events.SQSMessage, 10)
	for i := range records {
		records[i] = msg(fmt.Sprint("m", i), `{"userId":"u-42","title":"Your order shipped","body":"Arriving Tuesday","data":{"orderId":"1234"},"ttlSeconds":86400,"priority":"high"}`)
	}
	ev := event(records...)
	reg := &fakeRegistry{devices: map[string][]string{"u-42": {ep1, ep2}}}
	pub := publisherFunc(func(context.Context, string, string) (string, error) { return "id", nil })
	logger := slog.New(slog.NewJSONHandler(discard{}, nil))
	b.ReportAllocs()
	for b.Loop() {
		// A fresh log each round so every delivery is claimed and published, not skipped.
		svc := &delivery.Service{Registry: reg, Log: newFakeLog(), Publisher: pub, Queue: &fakeQueue{}, Logger: logger}
		if _, err := svc.Handle(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFanOut500(b *testing.B) {
	reg := &fakeRegistry{devices: map[string][]string{"many": devices(500)}}
	pub := publisherFunc(func(context.Context, string, string) (string, error) { return "id", nil })
	logger := slog.New(slog.NewJSONHandler(discard{}, nil))
	ev := event(msg("m1", `{"id":"p","userId":"many","title":"t"}`))
	b.ReportAllocs()
	for b.Loop() {
		svc := &delivery.Service{Registry: reg, Log: newFakeLog(), Publisher: pub, Queue: &fakeQueue{}, Logger: logger}
		if _, err := svc.Handle(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestABatchWritesItsMetrics(t *testing.T) {
	h := newHarness()
	var out bytes.Buffer
	h.svc.Metrics = &metrics.Emitter{W: &out, Function: "sender"}
	h.pub.errs[ep2] = &types.EndpointDisabledException{Message: strPtr("Endpoint is disabled")}
	h.handle(t, msg("m1", `{"id":"p1","userId":"u-42","title":"t","dueAt":"2026-12-01T08:59:59Z"}`), msg("bad", `{`))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "the batch's line and the lateness of its one engine")
	var line, byEngine map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line), out.String())
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &byEngine), out.String())
	assert.Equal(t, "queue", byEngine["Engine"], "a producer's push with no schedules row")
	assert.Equal(t, []any{3500.0}, byEngine["LatenessMs"])
	assert.NotContains(t, byEngine, "Sent", "counted once, in the batch's line")
	assert.NotContains(t, line, "Engine", "the metrics of before keep their one dimension")
	assert.EqualValues(t, 2, line["Sent"], "ep1 and ep3")
	assert.EqualValues(t, 1, line["PermanentFailures"])
	assert.EqualValues(t, 1, line["EndpointsDisabled"])
	assert.EqualValues(t, 1, line["Parked"], "the invalid message")
	assert.EqualValues(t, 0, line["Expired"])
	assert.Equal(t, []any{3500.0}, line["LatenessMs"], "due 3.5 s before the clock")
	assert.Contains(t, out.String(), `"Namespace":"DelayedPush"`)
}

// A push taken before its due time (a Wait that ended early, a schedule that fired early, a
// producer's dueAt ahead) is not published: it goes back on the queue until then, with its id
// and due time in the body, without counting as a requeue without progress.
func TestPushTakenBeforeItsDueTimeWaitsOnTheQueue(t *testing.T) {
	cases := []struct {
		name  string
		due   time.Time
		delay time.Duration
	}{
		{"a millisecond early", now.Add(time.Millisecond), time.Second},
		{"999 ms early, as a Wait truncated to the second", now.Add(999 * time.Millisecond), time.Second},
		{"2.2 s early: rounded up, never down", now.Add(2200 * time.Millisecond), 3 * time.Second},
		{"20 minutes early: SQS's longest delay, then again", now.Add(20 * time.Minute), 15 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			m := msg("m1", `{"userId":"u-1","title":"t","dueAt":"`+tc.due.Format(time.RFC3339Nano)+`"}`)
			m.MessageAttributes = map[string]events.SQSMessageAttribute{"requeues": num("3")}
			resp, err := h.svc.Handle(context.Background(), event(m))
			require.NoError(t, err)
			assert.Empty(t, failedIDs(resp), "not a failure: nothing is retried")
			assert.Zero(t, h.pub.total(), "never published before its due time")
			require.Len(t, h.queue.requeued, 1)
			back := h.queue.requeued[0]
			assert.Equal(t, tc.delay, back.Delay)
			assert.False(t, now.Add(back.Delay).Before(tc.due) && tc.delay < 15*time.Minute, "back no earlier than due")
			assert.Equal(t, "3", back.Attributes["requeues"].Value, "waiting is not a requeue without progress")
			p, err := push.Decode([]byte(back.Body))
			require.NoError(t, err)
			assert.Equal(t, "m1", p.ID, "the same push when it comes back")
			assert.Equal(t, tc.due.UTC().Format(time.RFC3339Nano), p.DueAt)
			line := h.report(t, "m1")
			assert.Equal(t, "early", line["outcome"])
			assert.Equal(t, "requeued", line["action"])
		})
	}

	// Due now or before: sent.
	h := newHarness()
	_, err := h.svc.Handle(context.Background(), event(msg("m2", `{"userId":"u-1","title":"t","dueAt":"`+now.Format(time.RFC3339Nano)+`"}`)))
	require.NoError(t, err)
	assert.Equal(t, 1, h.pub.total())
	assert.Empty(t, h.queue.requeued)
}
