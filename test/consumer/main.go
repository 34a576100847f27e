// Command shop is a stand-in for a team's own Go CDK app that adds Delayed Push to its stack
// with a few lines: docs/operations.md, "Use it in your own CDK app", shows them. It is a module of
// its own, which requires github.com/delayed-push/delayed-push (replaced by this repository).
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/stacks/delayedpush"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	NewShopStack(app, "Shop")
	app.Synth(nil)
}

// NewShopStack is the team's stack: its orders service and accounts service roles, and Delayed
// Push.
func NewShopStack(scope constructs.Construct, id string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), nil)
	ordersAPI := awsiam.NewRole(stack, jsii.String("OrdersApi"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	accountsService := awsiam.NewRole(stack, jsii.String("AccountsService"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})

	push := delayedpush.New(stack, "Push", &delayedpush.Props{
		SenderTimeout: awscdk.Duration_Seconds(jsii.Number(20)),
		AlarmEmail:    jsii.String("oncall@example.com"),
	})
	push.GrantSchedule(ordersAPI)                 // the Go client's Schedule and SendNow, either engine
	push.GrantSendNow(ordersAPI)                  // sqs:SendMessage on the push queue
	push.GrantManageDevices(ordersAPI)            // RegisterDevice, Devices, UnregisterDevice(s)
	push.GrantInvokeDeviceRoutes(accountsService) // the HTTP API's device routes only (IAM)
	awscdk.NewCfnOutput(stack, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{Value: push.StateMachine.StateMachineArn()})
	return stack
}
