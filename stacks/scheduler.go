package stacks

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SchedulerDefinition is the scheduler's ASL, relative to the module root.
const SchedulerDefinition = "statemachines/scheduler.asl.json"

// SchedulerProps configures the scheduler.
type SchedulerProps struct {
	Queue         awssqs.IQueue
	LogRetention  awslogs.RetentionDays
	RemovalPolicy awscdk.RemovalPolicy
}

// Scheduler is the Standard state machine that waits (delaySeconds or sendAt, up to a year) and
// then puts the push on the push queue with the direct SQS integration: no Lambda in between.
type Scheduler struct {
	constructs.Construct
	StateMachine awsstepfunctions.StateMachine
}

// NewScheduler loads statemachines/scheduler.asl.json with the queue URL substituted.
func NewScheduler(scope constructs.Construct, id string, props *SchedulerProps) *Scheduler {
	c := constructs.NewConstruct(scope, jsii.String(id))
	root, err := moduleRoot()
	if err != nil {
		panic(err)
	}
	// Inline rather than DefinitionBody_FromFile (an S3 asset): the template then shows the whole
	// definition, and CloudFormation fills in the substitutions.
	asl, err := os.ReadFile(filepath.Join(root, SchedulerDefinition))
	if err != nil {
		panic(fmt.Errorf("reading the scheduler definition: %w", err))
	}
	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		RemovalPolicy: props.RemovalPolicy,
	})
	sm := awsstepfunctions.NewStateMachine(c, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromString(jsii.String(string(asl))),
		DefinitionSubstitutions: &map[string]*string{
			"PushQueueUrl": props.Queue.QueueUrl(),
		},
		TracingEnabled: jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Pushes carry user data; state transitions are enough to follow an execution.
			IncludeExecutionData: jsii.Bool(false),
		},
		RemovalPolicy: props.RemovalPolicy,
	})
	// The ASL file is opaque to the CDK, so the arrow to the queue is granted explicitly.
	props.Queue.GrantSendMessages(sm)
	return &Scheduler{Construct: c, StateMachine: sm}
}
