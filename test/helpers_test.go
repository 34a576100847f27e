// Package test holds the CDK assertion tests: they synthesize the stack in-process and pin every
// property the issue and DESIGN.md promise users, so a refactor cannot silently change them.
package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

// synth builds the stack with the given configuration. Bundling is skipped (no Go build) unless
// outdir is set; the asset test bundles for real.
func synth(t *testing.T, cfg stacks.Config, outdir string) (awscdk.App, assertions.Template) {
	t.Helper()
	// Asset metadata is what the CDK CLI asks for; it ties a function to its asset directory.
	ctx := map[string]any{"aws:cdk:enable-asset-metadata": true}
	props := &awscdk.AppProps{Context: &ctx}
	if outdir == "" {
		ctx["aws:cdk:bundling-stacks"] = []string{}
	} else {
		props.Outdir = jsii.String(outdir)
	}
	app := awscdk.NewApp(props)
	stack := stacks.NewDelayedPushStack(app, "DelayedPush", &stacks.DelayedPushStackProps{Config: cfg})
	return app, assertions.Template_FromStack(stack.Stack, nil)
}

// templateJSON returns the template as plain Go values for checks the matchers cannot express.
func templateJSON(t *testing.T, tpl assertions.Template) map[string]any {
	t.Helper()
	raw, err := json.Marshal(tpl.ToJSON())
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// resources returns the template's resources of one type, by logical id.
func resources(t *testing.T, tpl assertions.Template, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range templateJSON(t, tpl)["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// only returns the single resource of a type, failing when there is not exactly one.
func only(t *testing.T, tpl assertions.Template, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(t, tpl, typ)
	require.Len(t, rs, 1, "resources of type %s", typ)
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// stateMachineDefinition parses the state machine's DefinitionString with its
// DefinitionSubstitutions replaced by the names of what they reference (QUEUE_URL for the queue's
// Ref), the way CloudFormation fills them in.
func stateMachineDefinition(t *testing.T, tpl assertions.Template) map[string]any {
	t.Helper()
	_, sm := only(t, tpl, "AWS::StepFunctions::StateMachine")
	def, ok := props(sm)["DefinitionString"].(string)
	require.True(t, ok, "the definition is inline, got %v", props(sm)["DefinitionString"])
	subs, _ := props(sm)["DefinitionSubstitutions"].(map[string]any)
	for name := range subs {
		def = strings.ReplaceAll(def, "${"+name+"}", strings.ToUpper(strings.TrimSuffix(name, "Url"))+"_URL")
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(def), &out), "definition must be JSON")
	return out
}

// aslFile reads statemachines/scheduler.asl.json.
func aslFile(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", stacks.SchedulerDefinition))
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// statements returns every IAM policy statement of every policy in the template, with the id
// of the policy resource that holds it.
func statements(t *testing.T, tpl assertions.Template) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for id, r := range resources(t, tpl, typ) {
			doc := props(r)["PolicyDocument"].(map[string]any)
			for _, s := range doc["Statement"].([]any) {
				out[id] = append(out[id], s.(map[string]any))
			}
		}
	}
	return out
}

// strs turns a string-or-list IAM field into a list.
func strs(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func jsiiStr(s string) *string { return jsii.String(s) }

func jsiiNum(n float64) *float64 { return jsii.Number(n) }
