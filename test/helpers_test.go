// Package test holds the CDK assertion tests: they synthesize the stack in-process and pin every
// property the issues and DESIGN.md promise users, so a refactor cannot silently change them.
package test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

// newApp is an app whose stacks skip bundling (no Go build) unless outdir is set; the asset
// test bundles for real. Asset metadata is on, as the CDK CLI asks for it.
func newApp(outdir string) awscdk.App {
	ctx := map[string]any{"aws:cdk:enable-asset-metadata": true}
	props := &awscdk.AppProps{Context: &ctx}
	if outdir == "" {
		ctx["aws:cdk:bundling-stacks"] = []string{}
	} else {
		props.Outdir = jsii.String(outdir)
	}
	return awscdk.NewApp(props)
}

// synth builds this repository's app stack with cfg.
func synth(t *testing.T, cfg stacks.Config, outdir string) (awscdk.App, assertions.Template) {
	t.Helper()
	app := newApp(outdir)
	stack := stacks.NewDelayedPushStack(app, "DelayedPush", &stacks.DelayedPushStackProps{Config: cfg})
	return app, assertions.Template_FromStack(stack.Stack, nil)
}

// ids returns the logical ids of the resources of a type that match props (nil: all), sorted.
func ids(tpl assertions.Template, typ string, props any) []string {
	found := tpl.FindResources(jsii.String(typ), props)
	if found == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(*found))
}

// only returns the logical id of the single resource of a type that matches props.
func only(t *testing.T, tpl assertions.Template, typ string, props any) string {
	t.Helper()
	got := ids(tpl, typ, props)
	require.Len(t, got, 1, "resources of type %s matching %v", typ, props)
	return got[0]
}

// withProperties is a FindResources filter on Properties.
func withProperties(props map[string]any) map[string]any {
	return map[string]any{"Properties": assertions.Match_ObjectLike(&props)}
}

// pushQueue returns the logical ids of the push queue (the one with a redrive policy) and its DLQ.
func pushQueue(t *testing.T, tpl assertions.Template) (queueID, dlqID string) {
	t.Helper()
	push := func(ids []string) []string { // not the device events queues
		return slices.DeleteFunc(ids, func(id string) bool { return !strings.Contains(id, "PushQueue") })
	}
	q := push(ids(tpl, "AWS::SQS::Queue", withProperties(map[string]any{"RedrivePolicy": assertions.Match_AnyValue()})))
	d := push(ids(tpl, "AWS::SQS::Queue", withProperties(map[string]any{"RedrivePolicy": assertions.Match_Absent()})))
	require.Len(t, q, 1)
	require.Len(t, d, 1)
	return q[0], d[0]
}

func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func jsiiStr(s string) *string { return jsii.String(s) }

func jsiiNum(n float64) *float64 { return jsii.Number(n) }

// roleOf returns the logical id of a function's role.
func roleOf(t *testing.T, tpl assertions.Template, fn string) string {
	t.Helper()
	resources := (*tpl.ToJSON())["Resources"].(map[string]any)
	return resources[fn].(map[string]any)["Properties"].(map[string]any)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
}
