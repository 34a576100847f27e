package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/statemachines"
)

// newScheduler creates the Standard state machine that waits (delaySeconds or sendAt, up to a
// year) and then puts the push on the push queue with the direct SQS integration: no Lambda
// in between. The definition is statemachines.Scheduler with the queue URL substituted.
func newScheduler(scope constructs.Construct, id string, queue awssqs.IQueue, s settings) awsstepfunctions.StateMachine {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := newLogGroup(c, "Logs", s)
	sm := awsstepfunctions.NewStateMachine(c, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		// Inline rather than an S3 asset: the template shows the whole definition, and
		// CloudFormation fills in the substitutions.
		DefinitionBody: awsstepfunctions.DefinitionBody_FromString(jsii.String(statemachines.Scheduler)),
		DefinitionSubstitutions: &map[string]*string{
			"PushQueueUrl": queue.QueueUrl(),
		},
		TracingEnabled:          jsii.Bool(true),
		EncryptionConfiguration: encryptionOf(s),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Pushes carry user data; state transitions are enough to follow an execution.
			IncludeExecutionData: jsii.Bool(false),
		},
		RemovalPolicy: s.removal,
	})
	// The definition is opaque to the CDK, so the arrow to the queue is granted explicitly.
	queue.GrantSendMessages(sm)
	// Confused deputy: Step Functions may assume the role for this account's state machines
	// only (it sets aws:SourceAccount and aws:SourceArn when it does).
	stack := awscdk.Stack_Of(c)
	if role, ok := sm.Role().Node().DefaultChild().(awsiam.CfnRole); ok {
		role.AddPropertyOverride(jsii.String("AssumeRolePolicyDocument.Statement.0.Condition"), map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			"ArnLike": map[string]any{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("states"),
				Resource: jsii.String("stateMachine"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})},
		})
	}
	return sm
}

// encryptionOf is the state machine's encryption: the data key when customer managed data is
// asked for (execution input holds the push for up to a year), else Step Functions' own key.
func encryptionOf(s settings) awsstepfunctions.EncryptionConfiguration {
	if !s.cmkData {
		return nil
	}
	return awsstepfunctions.NewCustomerManagedEncryptionConfiguration(s.key, awscdk.Duration_Minutes(jsii.Number(5)))
}
