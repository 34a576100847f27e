package statemachines_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/statemachines"
)

// aslState is what the walk reads of a state.
type aslState struct {
	Type  string
	Next  string
	End   bool
	Catch []struct {
		ErrorEquals []string
		Next        string
	}
}

// input is the kind of execution input a path is walked for.
type input int

const (
	delaySeconds input = iota
	sendAt
	badInput
)

// walk follows the scheduler from StartAt, state by state, until a state ends the execution,
// and returns the states entered: Step Functions bills one state transition for each (retries
// of a state are extra transitions, counted apart in docs/cost.md). A valid input follows each
// state's Next until End; a bad input raises the check's answer (JSONata $error) in the first
// state whose expressions call it, and follows that state's catcher of
// States.QueryEvaluationError. A Choice state cannot be decided without evaluating it: the walk
// refuses it, so that a definition that adds one makes this test say what to teach it.
func walk(t *testing.T, in input) []string {
	t.Helper()
	var def struct {
		StartAt string
		States  map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal([]byte(statemachines.Scheduler), &def))
	var path []string
	for name := def.StartAt; ; {
		raw, ok := def.States[name]
		require.True(t, ok, "state %q is not in the definition", name)
		var s aslState
		require.NoError(t, json.Unmarshal(raw, &s))
		path = append(path, name)
		require.Less(t, len(path), 50, "the walk does not end: %v", path)
		if in == badInput && strings.Contains(string(raw), "$error(") {
			next := ""
			for _, c := range s.Catch {
				for _, e := range c.ErrorEquals {
					if e == "States.QueryEvaluationError" || e == "States.ALL" {
						next = c.Next
					}
				}
				if next != "" {
					break
				}
			}
			require.NotEmpty(t, next, "state %s raises the check's answer but catches no States.QueryEvaluationError", name)
			name = next
			continue
		}
		switch s.Type {
		case "Choice":
			t.Fatalf("state %s is a Choice: teach walk to evaluate it for each kind of input (delaySeconds, sendAt, a bad input)", name)
		case "Succeed", "Fail":
			return path
		}
		if s.End {
			return path
		}
		require.NotEmpty(t, s.Next, "state %s has neither Next nor End", name)
		name = s.Next
	}
}

// costDoc is docs/cost.md.
func costDoc(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "cost.md"))
	require.NoError(t, err)
	return string(raw)
}

// The state transitions per push that docs/cost.md prices are the definition's: the document
// cannot drift from statemachines.Scheduler.
func TestCostDocumentHasTheSchedulersTransitions(t *testing.T) {
	doc := costDoc(t)
	for _, tc := range []struct {
		row string // the first column of the row in docs/cost.md's table
		in  input
	}{
		{"`delaySeconds`", delaySeconds},
		{"`sendAt`", sendAt},
		{"a bad input", badInput},
	} {
		t.Run(tc.row, func(t *testing.T) {
			path := walk(t, tc.in)
			row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(tc.row) + ` \| ([^|]+) \| (\d+) \|$`).FindStringSubmatch(doc)
			require.NotNil(t, row, "docs/cost.md has no row %q in its table of state transitions", tc.row)
			assert.Equal(t, strings.Join(path, " → "), strings.TrimSpace(row[1]), "the states entered")
			n, _ := strconv.Atoi(row[2])
			assert.Equal(t, len(path), n, "state transitions per push for %s", tc.row)
		})
	}
	assert.Len(t, walk(t, delaySeconds), 2, "two state transitions per valid push (issue #20, point 1)")
}

// The Step Functions line of docs/cost.md is its transitions at its price.
func TestCostDocumentPricesTheTransitions(t *testing.T) {
	doc := costDoc(t)
	price := regexp.MustCompile(`(?m)^\| Step Functions Standard \| \$([\d.]+) per 1,000 state transitions \|`).FindStringSubmatch(doc)
	require.NotNil(t, price, "docs/cost.md lists the price of a state transition")
	perThousand, err := strconv.ParseFloat(price[1], 64)
	require.NoError(t, err)
	line := regexp.MustCompile(`(?m)^\| Step Functions: (\d+) state transitions \| \$([\d,.]+) \| \$([\d,.]+) \|`).FindStringSubmatch(doc)
	require.NotNil(t, line, "docs/cost.md prices the Step Functions part of this stack")
	n, _ := strconv.Atoi(line[1])
	assert.Equal(t, len(walk(t, delaySeconds)), n)
	perMillion := float64(n) * perThousand * 1000
	assert.Equal(t, dollars(perMillion), line[2], "per million pushes")
	assert.Equal(t, dollars(perMillion*100), line[3], "per 100 million pushes")
}

// dollars writes an amount as docs/cost.md does: two decimals, thousands separated.
func dollars(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + "." + frac
}
