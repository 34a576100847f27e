package main

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The team's stack holds Delayed Push, and its role gets exactly the grants it asked for.
func TestShopStackAddsDelayedPush(t *testing.T) {
	ctx := map[string]any{"aws:cdk:bundling-stacks": []string{}}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	tpl := assertions.Template_FromStack(NewShopStack(app, "Shop"), nil)

	tpl.ResourceCountIs(jsii.String("AWS::StepFunctions::StateMachine"), jsii.Number(1))
	tpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(6)) // devices, device owners, deliveries, schedules, preferences, caps
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{"Timeout": 20, "Architectures": []any{"arm64"}})
	tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Endpoint": "oncall@example.com"})

	role := assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
		"Roles": []any{map[string]any{"Ref": role}},
		"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Action": "states:StartExecution"}),
			assertions.Match_ObjectLike(&map[string]any{"Action": "sqs:SendMessage"}),
			assertions.Match_ObjectLike(&map[string]any{"Action": "sns:CreatePlatformEndpoint"}),
		})}),
	})
	assert.True(t, strings.HasPrefix(*role.AsString(), "OrdersApi"), "granted to the team's role, got %s", *role.AsString())

	// The accounts service may call the HTTP API's six device routes, nothing else.
	accounts, resources := assertions.NewCapture(nil), assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
		"Roles": []any{map[string]any{"Ref": accounts}},
		"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}}},
	})
	assert.True(t, strings.HasPrefix(*accounts.AsString(), "AccountsService"), "granted to the accounts role, got %s", *accounts.AsString())
	assert.Len(t, *resources.AsArray(), 6, "POST /devices, DELETE /devices/{deviceId}, GET and DELETE /users/{userId}/devices, GET and PUT /users/{userId}/preferences")
}

// `cdk synth` of the team's app, with this module as a dependency in a directory that stays
// untouched (read-only for a non-root user, and checked unchanged after): the sender is built
// from its import path and the state machine definition comes from the embedded file.
func TestSynthesizesWithThisModuleAsAReadOnlyDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the app with go run and builds the Lambda; skipped with -short")
	}
	tmp := t.TempDir()
	dep := filepath.Join(tmp, "delayed-push")
	copyModule(t, filepath.Join("..", ".."), dep)
	before := tree(t, dep)
	readOnly(t, dep)
	t.Cleanup(func() { writable(dep) })

	// The app's own go.mod, with the dependency where the copy is.
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	modfile := filepath.Join(tmp, "go.mod")
	require.NoError(t, os.WriteFile(modfile, []byte(strings.Replace(string(mod), "=> ../..", "=> "+dep, 1)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o644))

	out := filepath.Join(tmp, "cdk.out")
	cmd := exec.Command("go", "run", "-modfile="+modfile, ".")
	cmd.Env = append(os.Environ(), "CDK_OUTDIR="+out, "GOFLAGS=-mod=readonly",
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", output)

	tpl, err := os.ReadFile(filepath.Join(out, "Shop.template.json"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(tpl), `"DefinitionString"`) && strings.Contains(string(tpl), `\"StartAt\": \"WaitUntilDue\"`),
		"the embedded definition is inline in Shop.template.json")
	bootstraps, err := filepath.Glob(filepath.Join(out, "asset.*", "bootstrap"))
	require.NoError(t, err)
	require.Len(t, bootstraps, 3, "the sender's, the HTTP API's and the device events function's assets")
	for _, b := range bootstraps {
		f, err := elf.Open(b)
		require.NoError(t, err)
		assert.Equal(t, elf.EM_AARCH64, f.Machine)
		f.Close()
	}

	assert.Equal(t, before, tree(t, dep), "nothing was written into the dependency's directory")
}

// copyModule copies what the Go build needs of the module at src (its Go files, go.mod,
// go.sum and embedded files), leaving out the local tooling and the tests' own modules.
func copyModule(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".local", ".venv", "node_modules", "cdk.out", "local", "test", "docs":
				if rel != "." {
					return filepath.SkipDir
				}
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		outFile, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		defer outFile.Close()
		_, err = io.Copy(outFile, in)
		return err
	})
	require.NoError(t, err)
}

// tree is every file below dir with a hash of its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h := sha256.Sum256(raw)
		out[path] = hex.EncodeToString(h[:])
		return nil
	})
	require.NoError(t, err)
	return out
}

func readOnly(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o555)
		}
		return os.Chmod(path, 0o444)
	}))
}

// writable undoes readOnly, so that the test's temporary directory can be removed.
func writable(dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o755)
		}
		return nil
	})
}
