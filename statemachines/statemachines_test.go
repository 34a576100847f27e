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
		}
	}
	require.NoError(t, json.Unmarshal([]byte(statemachines.Scheduler), &def), "the definition is JSON")
	assert.NotContains(t, statemachines.Scheduler, "CHECK_SCHEDULE")
	assert.NotContains(t, statemachines.Scheduler, "DUE_MILLIS")
	assert.Equal(t, "{% $exists("+statemachines.CheckSchedule+") ? $states.context.Execution.StartTime : $fromMillis($ceil("+
		statemachines.DueMillis+" / 1000) * 1000) %}", def.States["WaitUntilDue"].Timestamp)
	assert.True(t, strings.HasPrefix(def.States["SendPush"].Arguments.MessageBody,
		"{% ($invalid := "+statemachines.CheckSchedule+"; $exists($invalid) ? $error($invalid) : "))
	assert.Contains(t, def.States["SendPush"].Arguments.MessageBody, "'dueAt': $fromMillis("+statemachines.DueMillis+")")
	assert.Equal(t, "{% "+statemachines.CheckSchedule+" %}", def.States["InvalidSchedule"].Cause)
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
