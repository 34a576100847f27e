package statemachines_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/statemachines"
)

func TestSchedulerHoldsTheExpressions(t *testing.T) {
	var def struct {
		States map[string]struct {
			Cause     string
			Timestamp string
			Arguments struct{ MessageBody string }
			Choices   []struct{ Condition string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(statemachines.Scheduler), &def), "the definition is JSON")
	assert.NotContains(t, statemachines.Scheduler, "CHECK_SCHEDULE")
	assert.NotContains(t, statemachines.Scheduler, "DUE_MILLIS")
	check := def.States["CheckSchedule"]
	require.Len(t, check.Choices, 1)
	assert.Equal(t, "{% $not($exists("+statemachines.CheckSchedule+")) %}", check.Choices[0].Condition)
	assert.Equal(t, "{% "+statemachines.CheckSchedule+" %}", def.States["InvalidSchedule"].Cause)
	assert.Contains(t, def.States["WaitUntilDue"].Timestamp, statemachines.DueMillis)
	assert.Contains(t, def.States["SendPush"].Arguments.MessageBody, "'dueAt': $fromMillis("+statemachines.DueMillis+")")
}

// ASL validators read an expression only when it is on one line ("^{% .+ %}$").
func TestExpressionsAreOneLineWithoutComments(t *testing.T) {
	for name, expr := range map[string]string{"CheckSchedule": statemachines.CheckSchedule, "DueMillis": statemachines.DueMillis} {
		assert.NotContains(t, expr, "/*", name)
		assert.NotContains(t, expr, "*/", name)
		assert.NotContains(t, expr, "\n", name)
		assert.True(t, strings.HasPrefix(expr, "(") && strings.HasSuffix(expr, ")"), name)
	}
	assert.Contains(t, statemachines.CheckSchedule, `/^\d{4}-`, "regular expressions are not comments")
	assert.Contains(t, statemachines.CheckSchedule, `'holds a character SQS refuses (allowed: tab, LF, CR,`, "strings keep their spaces")
}
