// Command app is the Delayed Push CDK app: `cdk synth` and `cdk deploy` run it.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/security"
	"github.com/delayed-push/delayed-push/stacks"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := stacks.ConfigFromContext(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayed-push:", err)
		os.Exit(1)
	}
	stacks.NewDelayedPushStack(app, "DelayedPush", &stacks.DelayedPushStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("Delayed Push: schedule mobile pushes from seconds to a year ahead (Step Functions + SQS + SNS/FCM)"),
		},
		Config: cfg,
	})
	security.AddChecks(app)
	app.Synth(nil)
}
