package test

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

// TestSenderAssetIsAnArm64Bootstrap synthesizes with bundling on, as `cdk synth` does, and
// checks what Lambda will run: an executable aarch64 ELF named bootstrap, stripped of symbols.
func TestSenderAssetIsAnArm64Bootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("bundles the Go Lambda (go build); skipped with -short")
	}
	outdir := t.TempDir()
	app, tpl := synth(t, stacks.DefaultConfig(), outdir)
	app.Synth(nil)

	assetPath := assertions.NewCapture(nil)
	tpl.HasResource(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Metadata": assertions.Match_ObjectLike(&map[string]any{"aws:asset:path": assetPath}),
	})
	bootstrap := filepath.Join(outdir, *assetPath.AsString(), "bootstrap")
	info, err := os.Stat(bootstrap)
	require.NoError(t, err, "the asset must hold a bootstrap")
	assert.NotZero(t, info.Mode()&0o111, "bootstrap must be executable")

	f, err := elf.Open(bootstrap)
	require.NoError(t, err, "bootstrap must be an ELF file")
	defer f.Close()
	assert.Equal(t, elf.EM_AARCH64, f.Machine)
	assert.Equal(t, elf.ET_EXEC, f.Type)
	assert.Equal(t, elf.ELFCLASS64, f.Class)
	assert.Nil(t, f.Section(".symtab"), "bootstrap must be stripped (-s -w)")

	// The cloud assembly describes the same directory as a zip file asset for cdk deploy.
	raw, err := os.ReadFile(filepath.Join(outdir, "DelayedPush.assets.json"))
	require.NoError(t, err)
	var manifest struct {
		Files map[string]struct {
			Source struct{ Path, Packaging string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &manifest))
	found := false
	for _, f := range manifest.Files {
		if f.Source.Path == *assetPath.AsString() {
			found = true
			assert.Equal(t, "zip", f.Source.Packaging)
		}
	}
	assert.True(t, found, "the sender asset is in the asset manifest")
}
