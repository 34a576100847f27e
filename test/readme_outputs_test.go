package test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

// The README's list of stack outputs names every output the stack can have (every option
// on) and no other: a backend reads them, so a missing one is a missing piece of the docs.
func TestReadmeListsEveryStackOutput(t *testing.T) {
	cfg := stacks.DefaultConfig()
	cfg.Shopify = true
	cfg.ShopifyShopOwners = map[string]string{"shop.myshopify.com": "owner"}
	cfg.CustomerManagedKey = true
	_, tpl := synth(t, cfg, "")
	var outputs []string
	for name := range *tpl.FindOutputs(jsiiStr("*"), nil) {
		outputs = append(outputs, name)
	}
	slices.Sort(outputs)

	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	para := regexp.MustCompile("(?s)The stack outputs (.*?)\n\n").FindSubmatch(readme)
	require.NotNil(t, para, "the README has a paragraph starting \"The stack outputs\"")
	var listed []string
	for _, m := range regexp.MustCompile("`([A-Z][A-Za-z]+)`").FindAllSubmatch(para[1], -1) {
		listed = append(listed, string(m[1]))
	}
	slices.Sort(listed)
	listed = slices.Compact(listed)
	assert.Equal(t, outputs, listed, "the README's outputs (%s)", strings.Join(listed, ", "))
}
