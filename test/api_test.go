package test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/stacks"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
)

// templateRoutes are the route keys of the template's HTTP API, with their authorization.
func templateRoutes(t *testing.T, tpl assertions.Template) map[string]string {
	t.Helper()
	var routes map[string]struct {
		Properties struct{ RouteKey, AuthorizationType string }
	}
	decodeResources(t, tpl, "AWS::ApiGatewayV2::Route", nil, &routes)
	out := map[string]string{}
	for _, r := range routes {
		out[r.Properties.RouteKey] = r.Properties.AuthorizationType
	}
	return out
}

// openAPIRoutes are the (method path) pairs of docs/openapi.json.
func openAPIRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/openapi.json")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

// The OpenAPI document, the deployed routes and the handler's routes are the same set.
func TestOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	deployed := templateRoutes(t, defaults(t))
	var keys []string
	for k := range deployed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	handler := append([]string{}, httpapi.Routes...)
	sort.Strings(handler)
	assert.Equal(t, handler, keys, "the template's routes are the handler's")

	// With Shopify on, its webhook route is added; the document describes them all.
	var withWebhook []string
	for k := range templateRoutes(t, withShopify(t)) {
		withWebhook = append(withWebhook, k)
	}
	sort.Strings(withWebhook)
	all := append(append([]string{}, httpapi.Routes...), "POST "+delayedpush.ShopifyWebhookPath)
	sort.Strings(all)
	assert.Equal(t, all, withWebhook)
	assert.Equal(t, all, openAPIRoutes(t), "docs/openapi.json describes every route and no other")
}

func TestEveryRouteNeedsIAMByDefaultAndAJWTByConfiguration(t *testing.T) {
	defaults(t).AllResourcesProperties(jsiiStr("AWS::ApiGatewayV2::Route"), map[string]any{"AuthorizationType": "AWS_IAM"})
	jwt := withConfig(t, func(c *stacks.Config) {
		c.APIJwtIssuer, c.APIJwtAudience = "https://auth.example.com/", []string{"delayed-push"}
	})
	jwt.AllResourcesProperties(jsiiStr("AWS::ApiGatewayV2::Route"), map[string]any{"AuthorizationType": "JWT"})
	jwt.HasResourceProperties(jsiiStr("AWS::ApiGatewayV2::Authorizer"), map[string]any{
		"AuthorizerType":   "JWT",
		"JwtConfiguration": map[string]any{"Issuer": "https://auth.example.com/", "Audience": []any{"delayed-push"}},
	})
}

// apiFunctionHas asserts that the API function (the one function with DEFAULT_DELAY_SECONDS)
// has these environment variables, values or matchers.
func apiFunctionHas(t *testing.T, tpl assertions.Template, vars map[string]any) {
	t.Helper()
	fn := functionWith(t, tpl, "DEFAULT_DELAY_SECONDS")
	hasProperties(t, tpl, "AWS::Lambda::Function", fn, map[string]any{"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&vars)}})
}

// In JWT mode the function learns which claim names the user and which scope makes a backend
// (it decides what each token may do); with IAM it needs neither.
func TestJWTModeTellsTheFunctionTheUserClaimAndTheBackendScope(t *testing.T) {
	apiFunctionHas(t, defaults(t), map[string]any{"JWT_USER_CLAIM": assertions.Match_Absent(), "BACKEND_SCOPE": assertions.Match_Absent()})

	apiFunctionHas(t, withConfig(t, func(c *stacks.Config) {
		c.APIJwtIssuer, c.APIJwtAudience = "https://auth.example.com/", []string{"delayed-push"}
	}), map[string]any{"JWT_USER_CLAIM": "sub", "BACKEND_SCOPE": "delayed-push/backend"})

	apiFunctionHas(t, withConfig(t, func(c *stacks.Config) {
		c.APIJwtIssuer, c.APIJwtAudience = "https://auth.example.com/", []string{"delayed-push"}
		c.APIJwtUserClaim, c.APIBackendScope = "email", "push:admin"
	}), map[string]any{"JWT_USER_CLAIM": "email", "BACKEND_SCOPE": "push:admin"})
}

// docs/openapi.json states, per operation, who may call it (x-delayed-push-authorization, as
// the handler decides it) and the 403 forbidden answer of a refusal.
func TestOpenAPIDocumentStatesWhoMayCallEachRoute(t *testing.T) {
	b, err := os.ReadFile("../docs/openapi.json")
	require.NoError(t, err)
	type operation struct {
		Description string `json:"description"`
		Rule        string `json:"x-delayed-push-authorization"`
		Responses   map[string]struct {
			Description string         `json:"description"`
			Content     map[string]any `json:"content"`
		} `json:"responses"`
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	for _, route := range httpapi.Routes {
		method, path, _ := strings.Cut(route, " ")
		var op operation
		require.NoError(t, json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op), route)
		rule := httpapi.RouteAuthorization[route]
		assert.Equal(t, rule, op.Rule, "%s: x-delayed-push-authorization", route)
		if rule == httpapi.AuthBackend {
			assert.Contains(t, op.Description, "Backends only", route)
		} else {
			assert.Contains(t, op.Description, "the token's user", route)
		}
		refusal, ok := op.Responses["403"]
		if assert.True(t, ok, "%s: a 403 response", route) {
			assert.Contains(t, refusal.Description, httpapi.CodeForbidden, route)
			assert.Contains(t, refusal.Description, "nothing changed", route)
			assert.NotEmpty(t, refusal.Content, route)
		}
		assert.Contains(t, op.Responses, "401", "%s: API Gateway's JWT refusal", route)
	}
	assert.Contains(t, doc.Components.Schemas.Problem.Properties.Error.Properties.Code.Enum, httpapi.CodeForbidden)
}

func TestTheAPIIsThrottledLoggedAndPayload2(t *testing.T) {
	tpl := defaults(t)
	tpl.HasResourceProperties(jsiiStr("AWS::ApiGatewayV2::Stage"), map[string]any{
		"StageName": "$default", "AutoDeploy": true,
		"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
		"AccessLogSettings":    map[string]any{"DestinationArn": assertions.Match_AnyValue(), "Format": assertions.Match_StringLikeRegexp(jsiiStr(`"requestId":"\$context.requestId"`))},
	})
	tpl.AllResourcesProperties(jsiiStr("AWS::ApiGatewayV2::Integration"), map[string]any{
		"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0",
	})
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Environment": map[string]any{"Variables": map[string]any{
			"STATE_MACHINE_ARN": assertions.Match_AnyValue(), "PUSH_QUEUE_URL": assertions.Match_AnyValue(),
			"SCHEDULES_TABLE": assertions.Match_AnyValue(), "DEFAULT_DELAY_SECONDS": "7200", "MAX_BODY_BYTES": "65536",
		}},
	})
	tpl.HasOutput(jsiiStr("ApiUrl"), map[string]any{"Value": assertions.Match_AnyValue()})

	custom := withConfig(t, func(c *stacks.Config) {
		c.APIThrottleRateLimit, c.APIThrottleBurstLimit, c.APIDefaultDelaySeconds, c.APIMaxBodyBytes = 5, 10, 300, 4096
	})
	custom.HasResourceProperties(jsiiStr("AWS::ApiGatewayV2::Stage"), map[string]any{
		"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10},
	})
	custom.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"DEFAULT_DELAY_SECONDS": "300", "MAX_BODY_BYTES": "4096"})},
	})

	off := withConfig(t, func(c *stacks.Config) { c.API = false })
	off.ResourceCountIs(jsiiStr("AWS::ApiGatewayV2::Api"), jsiiNum(0))
	off.ResourceCountIs(jsiiStr("AWS::Lambda::Function"), jsiiNum(2)) // sender, device events
}

// The API function may do what the client does and nothing else.
func TestTheAPIFunctionHasTheClientsPermissionsOnly(t *testing.T) {
	tpl := defaults(t)
	fn := only(t, tpl, "AWS::Lambda::Function", withProperties(map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"DEFAULT_DELAY_SECONDS": "7200"})}}))
	got := map[string]bool{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(roleOf(t, tpl, fn))}})) {
		for _, a := range s.Action {
			got[a] = true
		}
	}
	want := []string{"states:StartExecution", "states:DescribeExecution", "states:StopExecution",
		"sqs:SendMessage",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
		"xray:PutTraceSegments", "xray:PutTelemetryRecords", "logs:CreateLogStream", "logs:PutLogEvents",
		// the device calls
		"sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
		// the economy engine's schedules, and the role they run as
		"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule", "iam:PassRole"}
	var gotList []string
	for a := range got {
		gotList = append(gotList, a)
	}
	assert.ElementsMatch(t, want, gotList)
}

func TestAPIConfigurationErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct{ raw, want string }{
		"jwt without audience":   {`{"apiJwtIssuer":"https://auth.example.com/"}`, `key "apiJwtAudience" is required with apiJwtIssuer`},
		"audience without jwt":   {`{"apiJwtAudience":["a"]}`, `key "apiJwtIssuer" is required with apiJwtAudience`},
		"http issuer":            {`{"apiJwtIssuer":"http://auth","apiJwtAudience":["a"]}`, `key "apiJwtIssuer" must be an https:// URL`},
		"zero rate":              {`{"apiThrottleRateLimit":0}`, `key "apiThrottleRateLimit" must be from 1 to 10000, got 0`},
		"tiny body":              {`{"apiMaxBodyBytes":10}`, `key "apiMaxBodyBytes" must be from 1024 to 10485760`},
		"delay over a year":      {`{"apiDefaultDelaySeconds":40000000}`, `key "apiDefaultDelaySeconds" must be from 0 to 31532400`},
		"api not a bool":         {`{"api":"no"}`, `key "api" must be a JSON bool`},
		"user claim without jwt": {`{"apiJwtUserClaim":"email"}`, `key "apiJwtIssuer" is required with apiJwtUserClaim and apiBackendScope`},
		"scope without jwt":      {`{"apiBackendScope":"push:admin"}`, `key "apiJwtIssuer" is required with apiJwtUserClaim and apiBackendScope`},
		"a shared user claim": {`{"apiJwtIssuer":"https://auth.example.com/","apiJwtAudience":["a"],"apiJwtUserClaim":"client_id"}`,
			`key "apiJwtUserClaim" is not usable: "client_id" does not name one user`},
		"an empty user claim": {`{"apiJwtIssuer":"https://auth.example.com/","apiJwtAudience":["a"],"apiJwtUserClaim":""}`,
			`key "apiJwtUserClaim" is not usable: is empty`},
		"a scope with a space": {`{"apiJwtIssuer":"https://auth.example.com/","apiJwtAudience":["a"],"apiBackendScope":"push admin"}`,
			`key "apiBackendScope" is not usable: "push admin" must be an OAuth scope`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := stacks.ParseConfig(c.raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// The construct's props refuse what the configuration refuses.
func TestApiPropsRefuseAnUnusableUserClaimOrScope(t *testing.T) {
	jwt := func(p delayedpush.ApiProps) *delayedpush.Props {
		p.JwtIssuer, p.JwtAudience = jsii.String("https://auth.example.com/"), jsii.Strings("delayed-push")
		return &delayedpush.Props{Api: &p}
	}
	for name, c := range map[string]struct {
		props *delayedpush.Props
		want  string
	}{
		"user claim without issuer": {&delayedpush.Props{Api: &delayedpush.ApiProps{JwtUserClaim: jsii.String("email")}},
			"DelayedPush: Api.JwtIssuer is required with JwtUserClaim and BackendScope"},
		"scope without issuer": {&delayedpush.Props{Api: &delayedpush.ApiProps{BackendScope: jsii.String("push:admin")}},
			"DelayedPush: Api.JwtIssuer is required with JwtUserClaim and BackendScope"},
		"audience as user claim": {jwt(delayedpush.ApiProps{JwtUserClaim: jsii.String("aud")}), `DelayedPush: Api.JwtUserClaim is not usable: "aud" does not name one user`},
		"empty scope":            {jwt(delayedpush.ApiProps{BackendScope: jsii.String("")}), "DelayedPush: Api.BackendScope is not usable: must be 1 to 256 characters"},
	} {
		t.Run(name, func(t *testing.T) {
			stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), nil)
			defer func() {
				p := recover()
				require.NotNil(t, p, "no error")
				err, ok := p.(error)
				require.True(t, ok, "panics with an error: %v", p)
				assert.Contains(t, err.Error(), c.want)
			}()
			delayedpush.New(stack, "Push", c.props)
		})
	}
}
