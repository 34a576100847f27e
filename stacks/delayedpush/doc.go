// Package delayedpush is Delayed Push as one AWS CDK construct: a Step Functions state machine
// waits until a push is due (seconds to a year) and puts it on an SQS queue, and a Go Lambda
// sends it through SNS mobile push (FCM). Add it to a stack of your Go CDK app and grant your
// producers what they do:
//
//	stack := awscdk.NewStack(app, jsii.String("Shop"), nil)
//	orders := awsiam.NewRole(stack, jsii.String("OrdersApi"), &awsiam.RoleProps{
//		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
//	})
//	push := delayedpush.New(stack, "Push", &delayedpush.Props{
//		AlarmEmail: jsii.String("oncall@example.com"),
//	})
//	push.GrantSchedule(orders)      // schedule pushes (client.Schedule, StartExecution)
//	push.GrantManageDevices(orders) // register and remove devices
//
// Every prop is optional; Props gives each default. The Lambdas are built from this module
// with the local Go toolchain during synth (no Docker): your app's module must require it.
// The construct's fields are the resources it created, for your own alarms, grants and
// outputs.
package delayedpush
