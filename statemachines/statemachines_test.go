package statemachines_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/statemachines"
)

func TestSchedulerHoldsTheCheck(t *testing.T) {
	var def struct {
		States map[string]struct {
			Cause   string
			Choices []struct{ Condition string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(statemachines.Scheduler), &def), "the definition is JSON")
	assert.NotContains(t, statemachines.Scheduler, "CHECK_SCHEDULE")
	check := def.States["CheckSchedule"]
	require.Len(t, check.Choices, 2)
	for _, c := range check.Choices {
		assert.Contains(t, c.Condition, "$not($exists("+statemachines.CheckSchedule+"))")
	}
	assert.Equal(t, "{% "+statemachines.CheckSchedule+" %}", def.States["InvalidSchedule"].Cause)
}

func TestCheckHasNoComments(t *testing.T) {
	assert.NotContains(t, statemachines.CheckSchedule, "/*")
	assert.NotContains(t, statemachines.CheckSchedule, "*/")
	assert.True(t, strings.HasPrefix(statemachines.CheckSchedule, "(") && strings.HasSuffix(statemachines.CheckSchedule, ")"))
	assert.Contains(t, statemachines.CheckSchedule, `/^\d{4}-`, "regular expressions are not comments")
}
