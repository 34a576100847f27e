package test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The product's packages (the construct, the Lambdas, the contracts) build on what the
// deployed app needs only: the local tooling lives in its own module (local/) and none of them
// imports it or its dependencies.
func TestProductImportsNoLocalTooling(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/delayed-push/delayed-push/...")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/delayed-push/delayed-push/stacks")
	for _, d := range deps {
		assert.False(t, strings.HasPrefix(d, "github.com/delayed-push/delayed-push/local"), "the product imports %s", d)
		for _, localOnly := range []string{"service/lambda", "service/s3"} {
			assert.NotContains(t, d, "aws-sdk-go-v2/"+localOnly, "a dependency of the local tooling only")
		}
	}
}
