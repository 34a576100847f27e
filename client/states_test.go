package client_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/index"
)

// The states Get and List report are the schedules table's, which the sender writes.
func TestStatesAreTheTables(t *testing.T) {
	assert.Equal(t,
		[]string{index.Scheduled, index.Sending, index.Sent, index.Failed, index.Expired, index.Cancelled, index.Deferred, index.Quiet, index.Capped},
		[]string{client.StateScheduled, client.StateSending, client.StateSent, client.StateFailed, client.StateExpired, client.StateCancelled,
			client.StateDeferred, client.StateQuiet, client.StateCapped})
}

// The engines a row names are the table's, which the sender reads.
func TestEnginesAreTheTables(t *testing.T) {
	assert.Equal(t, []string{index.EngineStepFunctions, index.EngineEconomy}, []string{client.EngineStepFunctions, client.EngineEconomy})
}
