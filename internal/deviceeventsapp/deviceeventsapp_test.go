package deviceeventsapp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/deviceeventsapp"
	"github.com/delayed-push/delayed-push/internal/metrics"
)

type fakeRegistry struct {
	got []devices.Event
	err error
}

func (f *fakeRegistry) Handle(_ context.Context, e devices.Event) (string, error) {
	f.got = append(f.got, e)
	return "disabled", f.err
}

func TestBadAndUnappliedEventsAreBatchItemFailures(t *testing.T) {
	reg := &fakeRegistry{}
	var logs bytes.Buffer
	var emf bytes.Buffer
	h := deviceeventsapp.Handler(reg, slog.New(slog.NewJSONHandler(&logs, nil)), &metrics.Emitter{W: &emf, Function: "deviceevents"})
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "good", Body: `{"EventType":"DeliveryFailure","EndpointArn":"arn:aws:sns:us-east-1:123456789012:endpoint/GCM/a/x","FailureType":"EndpointDisabled"}`},
		{MessageId: "junk", Body: `not json`},
	}}
	resp, err := h(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "junk"}}, resp.BatchItemFailures)
	require.Len(t, reg.got, 1)
	assert.Equal(t, "EndpointDisabled", reg.got[0].FailureType)
	assert.Contains(t, logs.String(), `"action":"disabled"`)
	assert.Contains(t, logs.String(), `"messageId":"junk"`)
	assert.Contains(t, emf.String(), `"EndpointsDisabled":1`)
	assert.Contains(t, emf.String(), `"TransientFailures":1`)

	reg.err = errors.New("throttled")
	resp, err = h(context.Background(), events.SQSEvent{Records: ev.Records[:1]})
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "good"}}, resp.BatchItemFailures, "retried later")
}
