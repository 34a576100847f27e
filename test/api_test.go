package test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/stacks"
)

// templateRoutes are the route keys of the template's HTTP API, with their authorization.
func templateRoutes(t *testing.T, tpl assertions.Template) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range *tpl.FindResources(jsiiStr("AWS::ApiGatewayV2::Route"), nil) {
		props := (*r)["Properties"].(map[string]any)
		auth, _ := props["AuthorizationType"].(string)
		out[props["RouteKey"].(string)] = auth
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
	all := append(append([]string{}, httpapi.Routes...), "POST "+stacks.ShopifyWebhookPath)
	sort.Strings(all)
	assert.Equal(t, all, withWebhook)
	assert.Equal(t, all, openAPIRoutes(t), "docs/openapi.json describes every route and no other")
}

func TestEveryRouteNeedsIAMByDefaultAndAJWTByConfiguration(t *testing.T) {
	for route, auth := range templateRoutes(t, defaults(t)) {
		assert.Equal(t, "AWS_IAM", auth, route)
	}
	jwt := withConfig(t, func(c *stacks.Config) {
		c.APIJwtIssuer, c.APIJwtAudience = "https://auth.example.com/", []string{"delayed-push"}
	})
	for route, auth := range templateRoutes(t, jwt) {
		assert.Equal(t, "JWT", auth, route)
	}
	jwt.HasResourceProperties(jsiiStr("AWS::ApiGatewayV2::Authorizer"), map[string]any{
		"AuthorizerType":   "JWT",
		"JwtConfiguration": map[string]any{"Issuer": "https://auth.example.com/", "Audience": []any{"delayed-push"}},
	})
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
	role := tpl.ToJSON()
	resources := (*role)["Resources"].(map[string]any)
	roleID := resources[fn].(map[string]any)["Properties"].(map[string]any)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	got := map[string]bool{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(roleID)}})) {
		for _, a := range s.Action {
			got[a] = true
		}
	}
	want := []string{"states:StartExecution", "states:DescribeExecution", "states:StopExecution",
		"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
		"xray:PutTraceSegments", "xray:PutTelemetryRecords", "logs:CreateLogStream", "logs:PutLogEvents",
		// the device calls
		"sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"}
	var gotList []string
	for a := range got {
		gotList = append(gotList, a)
	}
	assert.ElementsMatch(t, want, gotList)
}

func TestAPIConfigurationErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct{ raw, want string }{
		"jwt without audience": {`{"apiJwtIssuer":"https://auth.example.com/"}`, `key "apiJwtAudience" is required with apiJwtIssuer`},
		"audience without jwt": {`{"apiJwtAudience":["a"]}`, `key "apiJwtIssuer" is required with apiJwtAudience`},
		"http issuer":          {`{"apiJwtIssuer":"http://auth","apiJwtAudience":["a"]}`, `key "apiJwtIssuer" must be an https:// URL`},
		"zero rate":            {`{"apiThrottleRateLimit":0}`, `key "apiThrottleRateLimit" must be from 1 to 10000, got 0`},
		"tiny body":            {`{"apiMaxBodyBytes":10}`, `key "apiMaxBodyBytes" must be from 1024 to 10485760`},
		"delay over a year":    {`{"apiDefaultDelaySeconds":40000000}`, `key "apiDefaultDelaySeconds" must be from 0 to 31532400`},
		"api not a bool":       {`{"api":"no"}`, `key "api" must be a JSON bool`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := stacks.ParseConfig(c.raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
