// Package test holds the CDK assertion tests: they synthesize the stack in-process and pin every
// property the documentation promises users, so a refactor cannot silently change them. They
// say what they check with the assertions matchers; where a check is a computation over the
// template (every action of every policy, a list of logical ids), the helpers below read it
// through FindResources.
package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
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

// referenced returns the logical id of the one resource of type targetType that the resource
// id (of type typ) names in its properties, as refersTo(target) says it.
func referenced(t *testing.T, tpl assertions.Template, typ, id, targetType string, refersTo func(target string) map[string]any) string {
	t.Helper()
	var found []string
	for _, target := range ids(tpl, targetType, nil) {
		if slices.Contains(ids(tpl, typ, withProperties(refersTo(target))), id) {
			found = append(found, target)
		}
	}
	require.Len(t, found, 1, "the %s of %s", targetType, id)
	return found[0]
}

// roleOf returns the logical id of a function's role.
func roleOf(t *testing.T, tpl assertions.Template, fn string) string {
	t.Helper()
	return referenced(t, tpl, "AWS::Lambda::Function", fn, "AWS::IAM::Role", func(role string) map[string]any {
		return map[string]any{"Role": getAtt(role, "Arn")}
	})
}

// stateMachineRole returns the logical id of the state machine's role.
func stateMachineRole(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	role := assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{"RoleArn": map[string]any{"Fn::GetAtt": []any{role, "Arn"}}})
	return *role.AsString()
}

// idContaining returns the logical id of the one resource of a type whose id holds part (the
// name of its construct: the ids are pinned by TestStatefulResourcesKeepTheirLogicalIDs).
func idContaining(t *testing.T, tpl assertions.Template, typ, part string) string {
	t.Helper()
	found := slices.DeleteFunc(ids(tpl, typ, nil), func(id string) bool { return !strings.Contains(id, part) })
	require.Len(t, found, 1, "%s resources named %s", typ, part)
	return found[0]
}

// hasProperties asserts that the resource id (of type typ) has props, values or matchers as
// HasResourceProperties takes them.
func hasProperties(t *testing.T, tpl assertions.Template, typ, id string, props map[string]any, msgAndArgs ...any) bool {
	t.Helper()
	if slices.Contains(ids(tpl, typ, withProperties(props)), id) {
		return true
	}
	var found map[string]struct{ Properties json.RawMessage }
	decodeResources(t, tpl, typ, nil, &found)
	return assert.Fail(t, fmt.Sprintf("%s %s does not have the properties expected; it has %s", typ, id, found[id].Properties), msgAndArgs...)
}

// decodeResources reads the resources of type typ that match props (nil: all) into out, a map
// from logical id to a struct of the fields a test reads.
func decodeResources(t *testing.T, tpl assertions.Template, typ string, props any, out any) {
	t.Helper()
	raw, err := json.Marshal(tpl.FindResources(jsiiStr(typ), props))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, out))
}

// statement is an IAM statement of a template: Action, Resource and the principals as lists
// whether the template holds one or several, a reference as JSON, a string bare (an ARN, "*").
type statement struct {
	Sid        string
	Effect     string
	Action     []string
	Resource   []string
	Principals []string       // of every kind (Service, AWS)
	Raw        map[string]any // as the template holds it
}

// oneOrMany reads a policy field that holds one value or a list of them, as a list.
type oneOrMany []json.RawMessage

func (l *oneOrMany) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, (*[]json.RawMessage)(l))
	}
	*l = oneOrMany{b}
	return nil
}

// bare is a value as JSON, a string without its quotes.
func bare(raw json.RawMessage) string { return strings.Trim(string(raw), `"`) }

// asResource is a value as statement.Resource holds it.
func asResource(v any) string {
	raw, _ := json.Marshal(v)
	return bare(raw)
}

// documentStatements reads the statements of a policy document.
func documentStatements(t *testing.T, doc json.RawMessage) []statement {
	t.Helper()
	var d struct{ Statement []json.RawMessage }
	require.NoError(t, json.Unmarshal(doc, &d))
	var out []statement
	for _, raw := range d.Statement {
		var f struct {
			Sid, Effect      string
			Action, Resource oneOrMany
			Principal        json.RawMessage
		}
		require.NoError(t, json.Unmarshal(raw, &f))
		s := statement{Sid: f.Sid, Effect: f.Effect}
		require.NoError(t, json.Unmarshal(raw, &s.Raw))
		for _, a := range f.Action {
			var action string
			require.NoError(t, json.Unmarshal(a, &action))
			s.Action = append(s.Action, action)
		}
		for _, r := range f.Resource {
			s.Resource = append(s.Resource, bare(r))
		}
		var byKind map[string]oneOrMany
		if len(f.Principal) > 0 && json.Unmarshal(f.Principal, &byKind) == nil {
			for _, kind := range slices.Sorted(maps.Keys(byKind)) {
				for _, p := range byKind[kind] {
					s.Principals = append(s.Principals, bare(p))
				}
			}
		} else if len(f.Principal) > 0 {
			s.Principals = []string{bare(f.Principal)}
		}
		out = append(out, s)
	}
	return out
}

// policyStatements returns the statements of the IAM policies (AWS::IAM::Policy,
// AWS::IAM::ManagedPolicy) that match props (nil: all). No matcher says "every statement of
// every policy", so this reads them.
func policyStatements(t *testing.T, tpl assertions.Template, typ string, props any) []statement {
	t.Helper()
	var found map[string]struct {
		Properties struct{ PolicyDocument json.RawMessage }
	}
	decodeResources(t, tpl, typ, props, &found)
	var out []statement
	for _, id := range slices.Sorted(maps.Keys(found)) {
		out = append(out, documentStatements(t, found[id].Properties.PolicyDocument)...)
	}
	return out
}

// keyPolicy returns the statements of a KMS key's policy.
func keyPolicy(t *testing.T, tpl assertions.Template, key string) []statement {
	t.Helper()
	var found map[string]struct {
		Properties struct{ KeyPolicy json.RawMessage }
	}
	decodeResources(t, tpl, "AWS::KMS::Key", nil, &found)
	require.Contains(t, found, key)
	return documentStatements(t, found[key].Properties.KeyPolicy)
}

// tableWithKeys returns the logical id of the one table whose key schema is hash (and rng,
// when given).
func tableWithKeys(t *testing.T, tpl assertions.Template, hash, rng string, more map[string]any) string {
	t.Helper()
	keys := []any{map[string]any{"AttributeName": hash, "KeyType": "HASH"}}
	if rng != "" {
		keys = append(keys, map[string]any{"AttributeName": rng, "KeyType": "RANGE"})
	}
	props := map[string]any{"KeySchema": keys}
	for k, v := range more {
		props[k] = v
	}
	return only(t, tpl, "AWS::DynamoDB::Table", withProperties(props))
}

// devicesTable returns the logical id of the device registry (userId, endpointArn).
func devicesTable(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	return tableWithKeys(t, tpl, "userId", "endpointArn", nil)
}

// preferencesTable and capsTable return the logical ids of the recipient's clock's tables:
// both keyed by userId alone, the caps table with a TTL.
func preferencesTable(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	return tableWithKeys(t, tpl, "userId", "", map[string]any{"TimeToLiveSpecification": assertions.Match_Absent()})
}

func capsTable(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	return tableWithKeys(t, tpl, "userId", "", map[string]any{"TimeToLiveSpecification": map[string]any{"AttributeName": "expiresAt", "Enabled": true}})
}
