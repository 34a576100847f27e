// Command minimalapp is the yardstick of the synth benchmark (BENCHMARKS.md, "Synth"): the
// least a Go CDK app can be, one stack holding one SQS queue, synthesized by the same CDK CLI
// and Go bindings as the Delayed Push app:
//
//	npx --no-install cdk synth --app "go run ./bench/minimalapp" -o <dir>
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("MinimalQueue"), nil)
	awssqs.NewQueue(stack, jsii.String("Queue"), &awssqs.QueueProps{EnforceSSL: jsii.Bool(true)})
	app.Synth(nil)
}
