package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/statemachines"
)

// newScheduler creates the Standard state machine that waits (delaySeconds or sendAt, up to a
// year) and then puts the push on the push queue with the direct SQS integration: no Lambda
// in between. The definition is statemachines.Scheduler with the queue URL substituted.
func newScheduler(scope constructs.Construct, id string, d *DelayedPush, s settings) awsstepfunctions.StateMachine {
	c := constructs.NewConstruct(scope, jsii.String(id))
	queue := d.PushQueue
	logs := newLogGroup(c, "Logs", s)
	sm := awsstepfunctions.NewStateMachine(c, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		// Inline rather than an S3 asset: the template shows the whole definition, and
		// CloudFormation fills in the substitutions.
		DefinitionBody: awsstepfunctions.DefinitionBody_FromString(jsii.String(statemachines.Scheduler)),
		DefinitionSubstitutions: &map[string]*string{
			"PushQueueUrl": queue.QueueUrl(),
		},
		TracingEnabled: jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Pushes carry user data; state transitions are enough to follow an execution.
			IncludeExecutionData: jsii.Bool(false),
		},
		RemovalPolicy: s.removal,
	})
	// The definition is opaque to the CDK, so the arrow to the queue is granted explicitly:
	// SendMessage only (and the data key through SQS, under one).
	grantSend(sm, queue)
	d.useDataKey(sm, viaSQS)
	encryptExecutions(c, sm, d, s)
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

// encryptExecutions puts the executions (their input holds the push for up to a year) under
// the data key when customer managed data is asked for; else Step Functions' own key encrypts
// them.
//
// The configuration is set on the CloudFormation resource, not through the L2's
// CustomerManagedEncryptionConfiguration: the L2 grants the role the key on condition
// kms:EncryptionContext:aws:states:stateMachineArn = arn:...:stateMachine:NAME, and this state
// machine has no name of its own (CloudFormation names it), so that condition never matched
// and an unconditioned grant did the work; it also lets delivery.logs.amazonaws.com decrypt
// without a condition. Instead the role may use the data key for the state machine's own ARN
// (a Ref), in a policy of its own: the state machine waits for its default policy, and a
// statement naming the state machine there would be a cycle. The key policy allows log
// delivery on conditions (allowStateMachineLogDelivery).
func encryptExecutions(c constructs.Construct, sm awsstepfunctions.StateMachine, d *DelayedPush, s settings) {
	if !s.cmkData {
		return
	}
	sm.Node().DefaultChild().(awsstepfunctions.CfnStateMachine).SetEncryptionConfiguration(&awsstepfunctions.CfnStateMachine_EncryptionConfigurationProperty{
		Type: jsii.String("CUSTOMER_MANAGED_KMS_KEY"), KmsKeyId: s.dataKey.KeyArn(), KmsDataKeyReusePeriodSeconds: jsii.Number(300),
	})
	executions, logs := stateMachineKeyPolicy(d, sm)
	awsiam.NewPolicy(c, jsii.String("ExecutionsKeyPolicy"), &awsiam.PolicyProps{Roles: &[]awsiam.IRole{sm.Role()}, Statements: &executions})
	for _, st := range logs {
		sm.AddToRolePolicy(st)
	}
}

// stateMachineKeyPolicy is what the state machine's role may do with the data key, as the Step
// Functions Developer Guide documents for a state machine under a customer managed key ("Data
// at rest encryption", https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html):
// first, kms:Decrypt and kms:GenerateDataKey for its executions (encryption context
// aws:states:stateMachineArn = its ARN); then kms:GenerateDataKey for its log events
// (encryption context SourceArn = arn:aws:logs:REGION:ACCOUNT:*). With the upgrade, the same
// on the topics key for the executions started under it.
func stateMachineKeyPolicy(d *DelayedPush, sm awsstepfunctions.StateMachine) (executions, logs []awsiam.PolicyStatement) {
	keys := []awskms.IKey{d.DataKey}
	if d.s.cmkUpgrade {
		keys = append(keys, d.EncryptionKey)
	}
	for i, key := range keys {
		suffix := []string{"", "UnderThePreviousKey"}[i]
		executions = append(executions, keyUse{key, dataKeyActions, map[string]any{"StringEquals": map[string]any{
			"kms:EncryptionContext:aws:states:stateMachineArn": sm.StateMachineArn(),
		}}}.statement("ItsExecutions"+suffix))
		logs = append(logs, keyUse{key, []string{"kms:GenerateDataKey"}, map[string]any{"StringEquals": map[string]any{
			"kms:EncryptionContext:SourceArn": logDeliverySource(awscdk.Stack_Of(sm)),
		}}}.statement("ItsLogEvents"+suffix))
	}
	return executions, logs
}
