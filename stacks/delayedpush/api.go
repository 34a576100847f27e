package delayedpush

import (
	"encoding/json"
	"fmt"
	"strings"

	cfg "github.com/delayed-push/delayed-push/stacks/internal/settings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/apiapp"
	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/stacks/delayedpush/internal/gobuild"
)

// apiPackage is the import path of the HTTP API Lambda's main package.
const apiPackage = "github.com/delayed-push/delayed-push/lambdas/api"

// newAPI creates the HTTP API (API Gateway HTTP API, payload format 2.0): the routes of
// internal/httpapi on one Go Lambda with the client's permissions, IAM authorization on every
// route (or a JWT authorizer, with the function deciding per user: JWT_USER_CLAIM and
// BACKEND_SCOPE), the stage's throttling and access logs.
func newAPI(scope constructs.Construct, id string, d *DelayedPush, s settings) (awsapigatewayv2.HttpApi, awslambda.Function) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := newLogGroup(c, "FunctionLogs", s)
	fn := gobuild.NewFunction(c, "Function", &gobuild.FunctionProps{
		Package: apiPackage,
		FunctionProps: awslambda.FunctionProps{
			Description: jsii.String("Delayed Push HTTP API: schedule, get, reschedule, cancel and list pushes; register and remove devices; recipients' preferences"),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(10)),
			// 256 MB: a caller waits on it. Its init takes about 6 ms of CPU and a request a few
			// SDK calls (BENCHMARKS.md, "Cold start"): some 45 ms at 256 MB's share of a vCPU, twice
			// that at 128.
			MemorySize: jsii.Number(256),
			LogGroup:   logs,
			Environment: &map[string]*string{
				apiapp.EnvStateMachineArn:      d.StateMachine.StateMachineArn(),
				apiapp.EnvPushQueueURL:         d.PushQueue.QueueUrl(),
				apiapp.EnvSchedulesTable:       d.SchedulesTable.TableName(),
				cfg.APIDefaultDelaySeconds.Env: jsii.String(fmt.Sprint(s.api.defaultDelay)),
				cfg.APIMaxBodyBytes.Env:        jsii.String(fmt.Sprint(s.api.maxBodyBytes)),
				cfg.PlatformApplicationArn.Env: d.PlatformApplicationArn,
				apiapp.EnvDevicesTable:         d.DevicesTable.TableName(),
				apiapp.EnvDeviceOwnersTable:    d.DeviceOwnersTable.TableName(),
				// The economy engine: the stack's default engine, and what a schedule names.
				cfg.Engine.Env:                      jsii.String(s.engine),
				cfg.EconomyScheduleAfterSeconds.Env: jsii.String(fmt.Sprint(s.scheduleAfter)),
				apiapp.EnvScheduleGroupName:         d.EconomyScheduleGroup.ScheduleGroupName(),
				apiapp.EnvSchedulerRoleArn:          d.EconomyRole.RoleArn(),
				apiapp.EnvSchedulerDLQArn:           d.EconomyDeadLetterQueue.QueueArn(),
				apiapp.EnvPushQueueArn:              d.PushQueue.QueueArn(),
				apiapp.EnvSchedulerKmsKeyArn:        d.SchedulerKmsKeyArn(),
				// The recipient's preferences, and the zone of a user who has none.
				apiapp.EnvPreferencesTable: d.PreferencesTable.TableName(),
				cfg.DefaultTimeZone.Env:    jsii.String(s.defaultTimeZone),
			},
		},
	})
	d.GrantManage(fn)
	d.GrantManageDevices(fn)

	var authorizer awsapigatewayv2.IHttpRouteAuthorizer = awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	if s.api.jwtIssuer != "" {
		// The authorizer checks the token; the function decides what its holder may do: a
		// user their own devices, a holder of the backend scope everything (internal/httpapi).
		fn.AddEnvironment(jsii.String(cfg.APIJwtUserClaim.Env), jsii.String(s.api.jwtUserClaim), nil)
		fn.AddEnvironment(jsii.String(cfg.APIBackendScope.Env), jsii.String(s.api.backendScope), nil)
		authorizer = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Jwt"), jsii.String(s.api.jwtIssuer),
			&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{JwtAudience: jsii.Strings(s.api.jwtAudience...)})
	}
	api := awsapigatewayv2.NewHttpApi(c, jsii.String("Http"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(*awscdk.Stack_Of(c).StackName() + "-pushes"),
		Description:        jsii.String("Delayed Push: schedule, get, reschedule, cancel and list pushes"),
		DefaultAuthorizer:  authorizer,
		CreateDefaultStage: jsii.Bool(false), // the stage below has throttling and access logs
	})
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Lambda"), fn,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0()})
	for _, route := range httpapi.Routes {
		method, path, _ := strings.Cut(route, " ")
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path: jsii.String(path), Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(method)}, Integration: integration,
		})
	}

	accessLogs := newLogGroup(c, "AccessLogs", s)
	stage := awsapigatewayv2.NewHttpStage(c, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi: api, StageName: jsii.String("$default"), AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(s.api.rateLimit), BurstLimit: jsii.Number(s.api.burstLimit)},
	})
	format, _ := json.Marshal(map[string]string{ // no bodies, no headers: nothing a push holds
		"requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "caller": "$context.identity.caller",
		"requestTime": "$context.requestTime", "routeKey": "$context.routeKey", "status": "$context.status",
		"responseLength": "$context.responseLength", "latencyMs": "$context.responseLatency",
		"integrationError": "$context.integrationErrorMessage",
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(), Format: jsii.String(string(format)),
	})
	return api, fn
}
