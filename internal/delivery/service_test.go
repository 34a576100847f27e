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
	"github.com/delayed-push/delayed-push/internal/push"
)

var now = time.Date(2026, 12, 1, 9, 0, 2, 500_000_000, time.UTC)

const (
	ep1 = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/1"
	ep2 = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/2"
	ep3 = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/3"
)

type harness struct {
	svc  *delivery.Service
	reg  *fakeRegistry
	log  *fakeLog
	pub  *fakePublisher
	logs *bytes.Buffer
}

func newHarness() *harness {
	h := &harness{
		reg:  &fakeRegistry{devices: map[string][]string{"u-42": {ep1, ep2, ep3}, "u-1": {ep1}}},
		log:  newFakeLog(),
		pub:  &fakePublisher{errs: map[string]error{}},
		logs: &bytes.Buffer{},
	}
	h.svc = &delivery.Service{
		Registry: h.reg, Log: h.log, Publisher: h.pub,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
		Now:    func() time.Time { return now },
	}
	return h
}

func msg(id, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body}
}

func event(ms ...events.SQSMessage) events.SQSEvent { return events.SQSEvent{Records: ms} }

func failedIDs(r events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
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

func TestAllDevicesOfUserReceivePush(t *testing.T) {
	h := newHarness()
	body := `{"id":"p1","userId":"u-42","title":"Shipped","body":"Tuesday"}`
	resp, err := h.svc.Handle(context.Background(), event(msg("m1", body)))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)

	p, _ := push.Decode([]byte(body))
	want, err := fcm.BuildMessage(p)
	require.NoError(t, err)
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
	lines := h.logLines(t, "push processed")
	require.Len(t, lines, 1)
	assert.Equal(t, "sent", lines[0]["outcome"])
	assert.EqualValues(t, 3, lines[0]["endpoints"])
	assert.Equal(t, "p1", lines[0]["pushId"])
}

func TestEndpointArnPushGoesToThatEndpointOnly(t *testing.T) {
	h := newHarness()
	h.reg.err = errors.New("registry must not be called")
	resp, err := h.svc.Handle(context.Background(), event(msg("m1", `{"id":"p1","endpointArn":"`+ep2+`","body":"b"}`)))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	require.Len(t, h.pub.calls, 1)
	assert.Equal(t, ep2, h.pub.calls[0].endpoint)
	assert.Equal(t, "", h.log.get("p1", ep2).userID)
}

func TestPartialFailureReturnsOnlyFailedMessageIDs(t *testing.T) {
	h := newHarness()
	h.pub.errs[ep2] = &types.ThrottledException{Message: strPtr("slow down")}
	resp, err := h.svc.Handle(context.Background(), event(
		msg("ok-1", `{"id":"a","endpointArn":"`+ep1+`","title":"t"}`),
		msg("throttled", `{"id":"b","endpointArn":"`+ep2+`","title":"t"}`),
		msg("ok-2", `{"id":"c","endpointArn":"`+ep3+`","title":"t"}`),
		msg("bad-json", `{"id":"d",`),
	))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"throttled", "bad-json"}, failedIDs(resp))
}

func TestDisabledEndpointRecordedAndNotRetried(t *testing.T) {
	h := newHarness()
	h.pub.errs[ep2] = &types.EndpointDisabledException{Message: strPtr("Endpoint is disabled")}
	ev := event(msg("m1", `{"id":"p1","userId":"u-42","title":"t"}`))
	resp, err := h.svc.Handle(context.Background(), ev)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures, "a disabled endpoint is permanent: no retry")
	rec := h.log.get("p1", ep2)
	assert.Equal(t, "failed", rec.status)
	assert.Contains(t, rec.err, "EndpointDisabled")
	assert.Equal(t, "sent", h.log.get("p1", ep1).status)
	assert.Equal(t, "sent", h.log.get("p1", ep3).status)
	assert.Equal(t, "partial", h.logLines(t, "push processed")[0]["outcome"])

	// A redelivery (e.g. after a crash) does not try the disabled endpoint again.
	_, err = h.svc.Handle(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, 1, h.pub.count(ep2))
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
			resp, err := h.svc.Handle(context.Background(), event(msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)))
			require.NoError(t, err)
			assert.Empty(t, resp.BatchItemFailures)
			assert.Equal(t, "failed", h.log.get("p", ep1).status)
			assert.Equal(t, "failed", h.logLines(t, "push processed")[0]["outcome"])
		})
	}
}

func TestRedeliveredMessageDoesNotPublishTwice(t *testing.T) {
	h := newHarness()
	ev := event(msg("m1", `{"id":"p1","userId":"u-42","title":"t"}`))
	for range 3 {
		resp, err := h.svc.Handle(context.Background(), ev)
		require.NoError(t, err)
		assert.Empty(t, resp.BatchItemFailures)
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
	ev := event(msg("sqs-id-7", `{"endpointArn":"`+ep1+`","title":"t"}`))
	for range 2 {
		_, err := h.svc.Handle(context.Background(), ev)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, h.pub.count(ep1))
	assert.Equal(t, "sent", h.log.get("sqs-id-7", ep1).status)
}

func TestFailedPublishIsNotRecordedSentAndIsRetried(t *testing.T) {
	cases := map[string]error{
		"Throttled":           &types.ThrottledException{},
		"ThrottlingException": &smithy.GenericAPIError{Code: "ThrottlingException"},
		"KMSThrottling":       &types.KMSThrottlingException{},
		"InternalError":       &types.InternalErrorException{},
		"http 503": &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}},
			Err:      errors.New("service unavailable")},
		"deadline": context.DeadlineExceeded,
		"network":  &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
		"unknown":  errors.New("something odd"),
	}
	for name, perr := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness()
			h.pub.errs[ep2] = perr
			h.pub.once = true
			ev := event(msg("m1", `{"id":"p1","userId":"u-42","title":"t"}`))

			resp, err := h.svc.Handle(context.Background(), ev)
			require.NoError(t, err)
			assert.Equal(t, []string{"m1"}, failedIDs(resp))
			rec := h.log.get("p1", ep2)
			assert.Equal(t, "retry", rec.status)
			assert.Empty(t, rec.snsID)
			assert.NotEmpty(t, rec.err)

			// The redelivery publishes only what did not go out.
			resp, err = h.svc.Handle(context.Background(), ev)
			require.NoError(t, err)
			assert.Empty(t, resp.BatchItemFailures)
			assert.Equal(t, 2, h.pub.count(ep2))
			assert.Equal(t, 1, h.pub.count(ep1))
			assert.Equal(t, 1, h.pub.count(ep3))
			rec = h.log.get("p1", ep2)
			assert.Equal(t, "sent", rec.status)
			assert.Equal(t, 2, rec.attempts)
		})
	}
}

func TestPublishWithoutMessageIDIsNotSent(t *testing.T) {
	h := newHarness()
	h.svc.Publisher = publisherFunc(func(context.Context, string, string) (string, error) { return "", nil })
	resp, err := h.svc.Handle(context.Background(), event(msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"m1"}, failedIDs(resp))
	assert.Equal(t, "retry", h.log.get("p", ep1).status)
}

func TestLiveLeaseIsRetriedExpiredLeaseIsTakenOver(t *testing.T) {
	h := newHarness()
	k := delivery.Key{PushID: "p", EndpointARN: ep1}
	h.log.recs[k] = &record{status: "sending", leaseUntil: now.Add(time.Second).UnixMilli()}
	ev := event(msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`))
	resp, err := h.svc.Handle(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, []string{"m1"}, failedIDs(resp), "another invocation is sending: try later")
	assert.Zero(t, h.pub.count(ep1))

	h.log.recs[k].leaseUntil = now.Add(-time.Millisecond).UnixMilli()
	resp, err = h.svc.Handle(context.Background(), ev)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, 1, h.pub.count(ep1))
	assert.Equal(t, "sent", h.log.get("p", ep1).status)
}

func TestInvalidMessagesAreBatchFailuresWithSpecificErrors(t *testing.T) {
	cases := []struct{ name, body, field, errText string }{
		{"malformed JSON", `{"userId":"u-1","title":`, "$", "malformed JSON"},
		{"unknown field", `{"userId":"u-1","title":"t","badge":3}`, "badge", "unknown field"},
		{"missing recipient", `{"title":"t"}`, "userId", "missing recipient"},
		{"empty title and body", `{"userId":"u-1","title":"","body":""}`, "title", "both empty"},
		{"oversize payload", `{"userId":"u-1","title":"t","body":"` + strings.Repeat("x", 5000) + `"}`, "body", "oversize payload"},
		{"binary garbage", "\x00\xff\xfe", "$", "malformed JSON"},
		{"empty body", ``, "$", "empty message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			var resp events.SQSEventResponse
			require.NotPanics(t, func() {
				var err error
				resp, err = h.svc.Handle(context.Background(), event(msg("bad", tc.body), msg("good", `{"userId":"u-1","title":"t"}`)))
				require.NoError(t, err)
			})
			assert.Equal(t, []string{"bad"}, failedIDs(resp))
			assert.Equal(t, 1, h.pub.count(ep1), "the good neighbour is still sent")
			var bad map[string]any
			for _, l := range h.logLines(t, "push processed") {
				if l["messageId"] == "bad" {
					bad = l
				}
			}
			require.NotNil(t, bad)
			assert.Equal(t, "invalid", bad["outcome"])
			assert.Equal(t, "ERROR", bad["level"])
			assert.Equal(t, tc.field, bad["field"])
			assert.Contains(t, bad["error"], tc.errText)
		})
	}
}

func TestUserWithoutDevicesIsLoggedNotRetried(t *testing.T) {
	h := newHarness()
	resp, err := h.svc.Handle(context.Background(), event(msg("m1", `{"id":"p","userId":"nobody","title":"t"}`)))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Empty(t, h.pub.calls)
	assert.Equal(t, "no_devices", h.logLines(t, "push processed")[0]["outcome"])
}

func TestInfrastructureErrorsAreRetried(t *testing.T) {
	h := newHarness()
	h.reg.err = errors.New("dynamodb unavailable")
	resp, err := h.svc.Handle(context.Background(), event(msg("m1", `{"userId":"u-1","title":"t"}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"m1"}, failedIDs(resp))

	h = newHarness()
	h.log.claimErr = errors.New("dynamodb unavailable")
	resp, err = h.svc.Handle(context.Background(), event(msg("m1", `{"userId":"u-1","title":"t"}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"m1"}, failedIDs(resp))
	assert.Empty(t, h.pub.calls, "nothing is published without a claim")
}

func TestConfirmedPublishStaysSentWhenRecordingFails(t *testing.T) {
	h := newHarness()
	h.log.markErr = errors.New("dynamodb unavailable")
	resp, err := h.svc.Handle(context.Background(), event(msg("m1", `{"userId":"u-1","title":"t"}`)))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures, "retrying would push twice")
	assert.Len(t, h.pub.calls, 1)
	assert.Len(t, h.logLines(t, "published but could not record sent"), 1)
}

func TestPanicIsIsolatedToItsMessage(t *testing.T) {
	h := newHarness()
	h.svc.Publisher = publisherFunc(func(_ context.Context, ep, _ string) (string, error) {
		if ep == ep2 {
			panic("boom")
		}
		return "id", nil
	})
	resp, err := h.svc.Handle(context.Background(), event(
		msg("m1", `{"endpointArn":"`+ep1+`","title":"t"}`),
		msg("m2", `{"endpointArn":"`+ep2+`","title":"t"}`),
	))
	require.NoError(t, err)
	assert.Equal(t, []string{"m2"}, failedIDs(resp))
}

func TestLatenessAndPushIDFromAttributes(t *testing.T) {
	str := func(v string) events.SQSMessageAttribute {
		return events.SQSMessageAttribute{StringValue: &v, DataType: "String"}
	}
	num := func(v string) events.SQSMessageAttribute {
		return events.SQSMessageAttribute{StringValue: &v, DataType: "Number"}
	}
	sent := strconv.FormatInt(now.Add(-1500*time.Millisecond).UnixMilli(), 10)
	cases := []struct {
		name      string
		body      string
		attrs     map[string]events.SQSMessageAttribute
		pushID    string
		source    string
		lateness  int64
		sentStamp string
	}{
		{
			name: "sendAt attribute", body: `{"userId":"u-1","title":"t","dueAt":"2026-12-01T08:00:00Z"}`,
			attrs: map[string]events.SQSMessageAttribute{
				"executionName": str("exec-1"), "scheduledAt": str("2026-11-30T09:00:00Z"),
				"sendAt": str("2026-12-01T09:00:00Z")},
			pushID: "exec-1", source: "sendAt", lateness: 2500, sentStamp: sent,
		},
		{
			name: "scheduledAt + delaySeconds", body: `{"id":"own-id","userId":"u-1","title":"t"}`,
			attrs: map[string]events.SQSMessageAttribute{
				"executionName": str("exec-2"), "scheduledAt": str("2026-12-01T08:55:00Z"),
				"delaySeconds": num("300")},
			pushID: "own-id", source: "delaySeconds", lateness: 2500, sentStamp: sent,
		},
		{
			name: "body dueAt", body: `{"userId":"u-1","title":"t","dueAt":"2026-12-01T09:00:03Z"}`,
			pushID: "m1", source: "dueAt", lateness: -500, sentStamp: sent,
		},
		{
			name: "SentTimestamp for immediate pushes", body: `{"userId":"u-1","title":"t"}`,
			attrs:  map[string]events.SQSMessageAttribute{"sendAt": str("garbage")},
			pushID: "m1", source: "sentTimestamp", lateness: 1500, sentStamp: sent,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			m := msg("m1", tc.body)
			m.MessageAttributes = tc.attrs
			m.Attributes = map[string]string{"SentTimestamp": tc.sentStamp}
			res := h.svc.Process(context.Background(), []events.SQSMessage{m})
			require.Len(t, res, 1)
			assert.Equal(t, tc.pushID, res[0].PushID)
			assert.Equal(t, tc.source, res[0].DueSource)
			assert.Equal(t, tc.lateness, res[0].LatenessMs)
			line := h.logLines(t, "push processed")[0]
			assert.EqualValues(t, tc.lateness, line["latenessMs"])
			assert.Equal(t, tc.pushID, line["pushId"])
		})
	}
}

func TestLogsCarryNoPushContent(t *testing.T) {
	h := newHarness()
	h.pub.errs[ep2] = &types.ThrottledException{}
	_, err := h.svc.Handle(context.Background(), event(
		msg("m1", `{"userId":"u-42","title":"SECRET-TITLE","body":"SECRET-BODY","data":{"k":"SECRET-DATA"}}`)))
	require.NoError(t, err)
	for _, s := range []string{"SECRET-TITLE", "SECRET-BODY", "SECRET-DATA"} {
		assert.NotContains(t, h.logs.String(), s)
	}
}

func TestLeaseIsTwiceTheRemainingTime(t *testing.T) {
	for _, tc := range []struct {
		remaining, lease time.Duration
	}{{0, delivery.DefaultMinLease}, {10 * time.Second, delivery.DefaultMinLease}, {100 * time.Second, 200 * time.Second}} {
		h := newHarness()
		ctx := context.Background()
		if tc.remaining > 0 {
			var cancel context.CancelFunc
			// A deadline in the real future: the handler's clock is fixed at now.
			ctx, cancel = context.WithDeadline(ctx, time.Now().Add(tc.remaining))
			defer cancel()
			h.svc.Now = time.Now
		}
		start := h.svc.Now()
		_, err := h.svc.Handle(ctx, event(msg("m1", `{"id":"p","endpointArn":"`+ep1+`","title":"t"}`)))
		require.NoError(t, err)
		got := time.UnixMilli(h.log.get("p", ep1).leaseUntil).Sub(start)
		assert.InDelta(t, tc.lease.Seconds(), got.Seconds(), 1, "remaining %v", tc.remaining)
	}
}

func TestExpiredContextDoesNotClaim(t *testing.T) {
	h := newHarness()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := h.svc.Handle(ctx, event(msg("m1", `{"userId":"u-42","title":"t"}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"m1"}, failedIDs(resp))
	assert.Empty(t, h.pub.calls)
	assert.Empty(t, h.log.recs)
}

func TestClassify(t *testing.T) {
	assert.Equal(t, delivery.Class(""), delivery.Classify(nil))
	assert.Equal(t, delivery.Permanent, delivery.Classify(fmt.Errorf("wrapped: %w", &types.EndpointDisabledException{})))
	assert.Equal(t, delivery.Transient, delivery.Classify(fmt.Errorf("wrapped: %w", context.Canceled)))
	assert.Equal(t, "EndpointDisabled: gone", delivery.Reason(&types.EndpointDisabledException{Message: strPtr("gone")}))
	assert.Equal(t, "timeout", delivery.Reason(fmt.Errorf("x: %w", context.DeadlineExceeded)))
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
		svc := &delivery.Service{Registry: reg, Log: newFakeLog(), Publisher: pub, Logger: logger}
		if _, err := svc.Handle(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
