package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The batch benchmark's account is the real sender on the real adapters: a batch is delivered
// in full, and every call the sender makes is counted with its purpose.
func TestRunBatchCountsEveryCall(t *testing.T) {
	for _, tc := range []struct {
		sc   Scenario
		want map[string]int // per batch of 2
	}{
		{Scenario{Name: "one device", Devices: 1}, map[string]int{
			"dynamodb:Query devices": 2, "dynamodb:UpdateItem deliveries (claim)": 2,
			"dynamodb:UpdateItem deliveries (record)": 2, "sns:Publish": 2}},
		{Scenario{Name: "three devices, scheduled", Devices: 3, Scheduled: true}, map[string]int{
			"dynamodb:Query devices": 2, "dynamodb:UpdateItem deliveries (claim)": 6,
			"dynamodb:UpdateItem deliveries (record)": 6, "sns:Publish": 6,
			"dynamodb:UpdateItem schedules (begin)": 2, "dynamodb:UpdateItem schedules (finish)": 2}},
		{Scenario{Name: "endpoint ARN"}, map[string]int{
			"dynamodb:UpdateItem deliveries (claim)": 2, "dynamodb:UpdateItem deliveries (record)": 2, "sns:Publish": 2}},
	} {
		t.Run(tc.sc.Name, func(t *testing.T) {
			run, err := RunBatch(tc.sc, 2, time.Millisecond)
			require.NoError(t, err)
			assert.Equal(t, tc.want, run.Calls)
			assert.GreaterOrEqual(t, run.MaxInFlight, 2, "the two pushes are handled at once")
		})
	}
}

func TestMemoryPortsSendABatch(t *testing.T) {
	m := NewMemory(2)
	resp, err := m.Service().Handle(t.Context(), batch10())
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.EqualValues(t, 20, m.Sent())
}

func TestStubAnswersTheSDK(t *testing.T) {
	st := NewStub()
	defer st.Close()
	resp, err := st.Service().Handle(t.Context(), batch10())
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.EqualValues(t, 40, st.Calls.Load(), "a query, a claim, a publish and a record per push")

	resp, err = st.InProcessService().Handle(t.Context(), batch10())
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.EqualValues(t, 80, st.Calls.Load(), "the same calls, in process")
}
