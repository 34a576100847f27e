package test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README shows the examples the end-to-end tests run (local/e2e/examples_test.go): each
// block marked <!-- example: PATH --> must be that file, exactly.
func TestReadmeShowsTheExamplesAsTheyAre(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)<!-- example: (\\S+) -->\n```[a-z]*\n(.*?)```\n").FindAllSubmatch(readme, -1)
	require.GreaterOrEqual(t, len(blocks), 4, "the Go, AWS CLI, Python and Node.js examples")
	for _, b := range blocks {
		path := string(b[1])
		want, err := os.ReadFile(filepath.Join("..", path))
		require.NoError(t, err, "the README shows %s", path)
		assert.Equal(t, string(want), string(b[2]), "README block of %s differs from the file", path)
	}
}
