package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// "engine": "" is the stack's engine, as an absent engine is, and as Request.Engine "" and
// pushctl --engine "" are.
func TestAnEmptyEngineIsTheStacks(t *testing.T) {
	w := newWorld()
	status, out := w.do(t, "POST /pushes", "", `{"key":"k","delaySeconds":300,"engine":"","push":`+shipped+`}`, nil)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, "stepfunctions", out["engine"], "the stack's default")
	assert.Equal(t, "k", out["executionName"])
}
