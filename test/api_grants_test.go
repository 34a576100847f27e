package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
)

// routeArn is the execute-api ARN of a route of the API api on the $default stage, as a
// template writes it (path already with "*" for its parameters): in this repository's stack
// (region and account unknown at synth) or, with inConsumer, in inStack's (eu-west-1,
// 111122223333).
func routeArn(api, methodAndPath string, inConsumer bool) map[string]any {
	parts := []any{"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":"}
	if inConsumer {
		parts = []any{"arn:", ref("AWS::Partition"), ":execute-api:eu-west-1:111122223333:"}
	}
	return map[string]any{"Fn::Join": []any{"", append(parts, ref(api), "/$default/"+methodAndPath)}}
}

// The exact ARNs of the push routes and of the device routes, in internal/httpapi.Routes' order.
func pushRouteArns(api string, inConsumer bool) []any {
	var out []any
	for _, r := range []string{"POST/pushes", "GET/pushes", "GET/pushes/*", "PUT/pushes/*", "DELETE/pushes/*"} {
		out = append(out, routeArn(api, r, inConsumer))
	}
	return out
}

func deviceRouteArns(api string, inConsumer bool) []any {
	var out []any
	for _, r := range []string{"POST/devices", "DELETE/devices/*", "GET/users/*/devices", "DELETE/users/*/devices", "GET/users/*/preferences", "PUT/users/*/preferences"} {
		out = append(out, routeArn(api, r, inConsumer))
	}
	return out
}

// Every route of the API is a push route or a device route, never both: a new route must be
// put in a group (stacks/delayedpush/api_grants.go) before a grant can name it.
func TestEveryRouteIsInOneGrantGroup(t *testing.T) {
	assert.ElementsMatch(t, httpapi.Routes, append(append([]string{}, delayedpush.PushRoutes...), delayedpush.DeviceRoutes...))
	for _, r := range delayedpush.PushRoutes {
		assert.NotContains(t, delayedpush.DeviceRoutes, r)
	}
	assert.Equal(t, []string{"POST /pushes", "GET /pushes", "GET /pushes/{key}", "PUT /pushes/{key}", "DELETE /pushes/{key}"}, delayedpush.PushRoutes)
	assert.Equal(t, []string{"POST /devices", "DELETE /devices/{deviceId}", "GET /users/{userId}/devices", "DELETE /users/{userId}/devices",
		"GET /users/{userId}/preferences", "PUT /users/{userId}/preferences"}, delayedpush.DeviceRoutes)
}

// IAM mode, narrowed: each grant gives execute-api:Invoke on its routes only, by exact ARN.
func TestGrantInvokeGivesExactlyTheChosenRoutes(t *testing.T) {
	role := func(stack awscdk.Stack, id string) awsiam.Role {
		return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
			RoleName: jsii.String(id)})
	}
	tpl := inStack(t, nil, func(stack awscdk.Stack, push *delayedpush.DelayedPush) {
		push.GrantInvokeDeviceRoutes(role(stack, "AccountsBackend")) // registers devices, cannot create pushes
		push.GrantInvokePushRoutes(role(stack, "OrdersBackend"))
		push.GrantInvoke(role(stack, "Reporting"), "GET /pushes", "GET /pushes/{key}")
	})
	api := only(t, tpl, "AWS::ApiGatewayV2::Api", nil)
	// The role's one policy holds one statement: Invoke on these ARNs, in this order.
	invokes := func(roleName string, arns []any) {
		t.Helper()
		r := only(t, tpl, "AWS::IAM::Role", withProperties(map[string]any{"RoleName": roleName}))
		policy := only(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(r)}}))
		hasProperties(t, tpl, "AWS::IAM::Policy", policy, map[string]any{"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
			"Statement": []any{assertions.Match_Exact(map[string]any{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": arns})},
		})}, roleName)
	}
	invokes("AccountsBackend", deviceRouteArns(api, true))
	invokes("OrdersBackend", pushRouteArns(api, true))
	invokes("Reporting", []any{routeArn(api, "GET/pushes", true), routeArn(api, "GET/pushes/*", true)})

	// The API's routes authorize with IAM, so these grants are what API Gateway checks.
	tpl.AllResourcesProperties(jsiiStr("AWS::ApiGatewayV2::Route"), map[string]any{"AuthorizationType": "AWS_IAM"})
}

func TestGrantInvokeRefusesWhatIAMDoesNotGuard(t *testing.T) {
	for name, c := range map[string]struct {
		props  *delayedpush.Props
		routes []string
		want   string
	}{
		"unknown route":   {nil, []string{"POST /shopify/webhooks"}, `DelayedPush: GrantInvoke: "POST /shopify/webhooks" is not a route of the HTTP API`},
		"path not a key":  {nil, []string{"GET /pushes/order-42"}, `"GET /pushes/order-42" is not a route of the HTTP API`},
		"no route":        {nil, nil, "DelayedPush: GrantInvoke: no route given"},
		"API disabled":    {&delayedpush.Props{Api: &delayedpush.ApiProps{Disabled: jsii.Bool(true)}}, []string{"POST /pushes"}, "the HTTP API is disabled"},
		"JWT authorizers": {&delayedpush.Props{Api: &delayedpush.ApiProps{JwtIssuer: jsii.String("https://auth.example.com/"), JwtAudience: jsii.Strings("pushes")}}, []string{"POST /pushes"}, "authorizes with JWTs"},
	} {
		t.Run(name, func(t *testing.T) {
			stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), nil)
			push := delayedpush.New(stack, "Push", c.props)
			grantee := awsiam.NewRole(stack, jsii.String("R"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
			defer func() {
				p := recover()
				require.NotNil(t, p, "no error")
				err, ok := p.(error)
				require.True(t, ok, "panics with an error: %v", p)
				assert.Contains(t, err.Error(), c.want)
			}()
			push.GrantInvoke(grantee, c.routes...)
		})
	}
}
