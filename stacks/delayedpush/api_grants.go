package delayedpush

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/httpapi"
)

// APIStage is the HTTP API's one stage, the one its ApiUrl serves and execute-api ARNs name.
const APIStage = "$default"

// The HTTP API's routes (route keys of internal/httpapi.Routes, as API Gateway writes them), in
// the two groups a caller is granted (GrantInvokePushRoutes, GrantInvokeDeviceRoutes). Every
// route is in exactly one group (a test keeps it so).
var (
	// PushRoutes schedule, read, reschedule, cancel and list pushes.
	PushRoutes = routesWhere(func(path string) bool { return path == "/pushes" || strings.HasPrefix(path, "/pushes/") })
	// DeviceRoutes register, list and remove devices, and read and set a user's preferences
	// (time zone, quiet hours): what a device-registration backend does for its users.
	DeviceRoutes = routesWhere(func(path string) bool {
		return path == "/devices" || strings.HasPrefix(path, "/devices/") || strings.HasPrefix(path, "/users/")
	})
)

func routesWhere(match func(path string) bool) []string {
	var out []string
	for _, r := range httpapi.Routes {
		if _, path, _ := strings.Cut(r, " "); match(path) {
			out = append(out, r)
		}
	}
	return out
}

var pathParameter = regexp.MustCompile(`\{[^}]*\}`)

// GrantInvoke lets grantee call the given routes of the HTTP API with IAM authorization
// (SigV4): execute-api:Invoke on arn:aws:execute-api:REGION:ACCOUNT:API/$default/METHOD/PATH,
// each path parameter ("{key}") as "*". routes are route keys of internal/httpapi.Routes
// ("POST /pushes", "GET /pushes/{key}"). It panics when the API is disabled or authorizes with
// JWTs (API Gateway then checks no IAM permission), or when a route is not one of the API's.
func (d *DelayedPush) GrantInvoke(grantee awsiam.IGrantable, routes ...string) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings("execute-api:Invoke"), ResourceArns: d.InvokeArns(routes...),
	})
}

// GrantInvokePushRoutes lets grantee schedule, read, reschedule, cancel and list pushes
// through the HTTP API (PushRoutes), and nothing else of it.
func (d *DelayedPush) GrantInvokePushRoutes(grantee awsiam.IGrantable) awsiam.Grant {
	return d.GrantInvoke(grantee, PushRoutes...)
}

// GrantInvokeDeviceRoutes lets grantee register, list and remove devices and read and set
// users' preferences through the HTTP API (DeviceRoutes), and nothing else of it: for a
// device-registration backend that must not create pushes.
func (d *DelayedPush) GrantInvokeDeviceRoutes(grantee awsiam.IGrantable) awsiam.Grant {
	return d.GrantInvoke(grantee, DeviceRoutes...)
}

// InvokeArns are the execute-api ARNs of routes, as GrantInvoke grants them (and panics as it
// does): for a statement of a managed policy.
func (d *DelayedPush) InvokeArns(routes ...string) *[]*string {
	switch {
	case d.Api == nil:
		panic(fmt.Errorf("DelayedPush: GrantInvoke: the HTTP API is disabled (Api.Disabled)"))
	case d.s.api.jwtIssuer != "":
		panic(fmt.Errorf("DelayedPush: GrantInvoke: the HTTP API authorizes with JWTs (Api.JwtIssuer): API Gateway checks no IAM permission, grant the callers in your identity provider"))
	case len(routes) == 0:
		panic(fmt.Errorf("DelayedPush: GrantInvoke: no route given"))
	}
	stack := awscdk.Stack_Of(d.Construct)
	arns := make([]*string, 0, len(routes))
	for _, r := range routes {
		if !slices.Contains(httpapi.Routes, r) {
			panic(fmt.Errorf("DelayedPush: GrantInvoke: %q is not a route of the HTTP API (one of %s)", r, strings.Join(httpapi.Routes, ", ")))
		}
		method, path, _ := strings.Cut(r, " ")
		arns = append(arns, stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("execute-api"), Resource: d.Api.ApiId(),
			ResourceName: jsii.String(APIStage + "/" + method + pathParameter.ReplaceAllString(path, "*")),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		}))
	}
	return &arns
}
