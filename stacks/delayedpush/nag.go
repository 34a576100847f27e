package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/stacks/internal/nag"
)

// The findings the construct accepts, recorded on its resources (package nag says how).

var (
	xrayWildcard = nag.NewRule("AwsSolutions-IAM5", "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions: AWS requires \"*\" (active tracing).", `^Resource::\*$`)
	inlinePolicy = nag.NewRule("NIST.800.53.R5-IAMNoInlinePolicy", "One role per function with a policy built from grants scoped to this stack's resources; a managed policy would be shared and broader. Producers get the ProducerPolicy managed policy.")
	indexes      = nag.NewRule("AwsSolutions-IAM5", "The schedules table's sparse index \"pending\" (listing pending pushes); CDK's grant names the table's indexes.", `^Resource::<.*Schedules.*\.Arn>/index/\*$`)
)

// suppressFunction records why a Go function of the construct has no VPC, reserved
// concurrency or dead-letter queue of its own.
func suppressFunction(fn awslambda.Function, queueDriven bool) {
	dlq := "It is invoked synchronously (API Gateway): a failed request is answered with an error and retried by the caller; there is no asynchronous event to keep."
	concurrency := "Bounded by the HTTP API stage's throttling; reserved concurrency would take capacity away from the account's other functions."
	if queueDriven {
		dlq = "Invoked by an SQS event source: failed messages return to the queue and, after maxReceiveCount, wait in the queue's dead-letter queue (with an alarm)."
		concurrency = "Bounded by the SQS event source (maximum concurrency where it matters: the sender); reserved concurrency would take capacity away from the account's other functions."
	}
	noVPC := "It calls only AWS APIs (DynamoDB, SQS, SNS, Secrets Manager) over TLS with IAM; there is nothing in a VPC to reach, and VPC endpoints for each would cost more than the function."
	nag.CheckovSkip(fn,
		[2]string{"CKV_AWS_117", noVPC},
		[2]string{"CKV_AWS_116", dlq},
		[2]string{"CKV_AWS_115", concurrency},
		[2]string{"CKV_AWS_173", "The environment holds resource names and ARNs only, no secret (the Shopify secret is read from Secrets Manager); Lambda encrypts it at rest with its service key."},
	)
	nag.Suppress(fn,
		nag.NewRule("NIST.800.53.R5-LambdaInsideVPC", "It calls only AWS APIs (DynamoDB, SQS, SNS, Secrets Manager) over TLS with IAM; there is nothing in a VPC to reach, and VPC endpoints for each would cost more than the function."),
		nag.NewRule("NIST.800.53.R5-LambdaDLQ", dlq),
		nag.NewRule("NIST.800.53.R5-LambdaConcurrency", concurrency),
	)
	if p := nag.DefaultPolicy(fn.Role()); p != nil {
		nag.Suppress(p, xrayWildcard, inlinePolicy)
	}
}

// suppressFindings records the construct's accepted findings, once everything is created.
func suppressFindings(d *DelayedPush) {
	suppressFunction(d.SenderFunction, true)
	nag.Suppress(nag.DefaultPolicy(d.SenderFunction.Role()), nag.Endpoints, indexes)
	suppressFunction(d.DeviceEventsFunction, true)
	if d.ApiFunction != nil {
		suppressFunction(d.ApiFunction, false)
		nag.Suppress(nag.DefaultPolicy(d.ApiFunction.Role()), nag.Endpoints, indexes, nag.Executions, nag.Schedules)
	}
	nag.Suppress(nag.DefaultPolicy(d.EconomyRole), inlinePolicy)
	nag.Suppress(d.EconomyDeadLetterQueue, nag.NewRule("AwsSolutions-SQS3",
		"It is a dead-letter queue: the economy engine's schedules' (their DeadLetterConfig, set when the client creates each one at run time), which cdk-nag recognizes only in a queue's RedrivePolicy."))
	if d.ShopifyWebhookFunction != nil {
		suppressFunction(d.ShopifyWebhookFunction, false)
		suppressFunction(d.ShopifyOrdersFunction, true)
		nag.Suppress(d.OrdersTable, backups)
		if secret, ok := d.ShopifySecret.(awssecretsmanager.Secret); ok {
			rotation := "The Shopify client secret is issued by Shopify and rotated in Shopify's dashboard, not by a Lambda: store {\"current\",\"previous\"} while both are valid (docs/shopify.md)."
			nag.Suppress(secret, nag.NewRule("AwsSolutions-SMG4", rotation), nag.NewRule("NIST.800.53.R5-SecretsManagerRotationEnabled", rotation))
		}
	}
	tables := []awsdynamodb.Table{d.DevicesTable, d.DeviceOwnersTable, d.DeliveriesTable, d.SchedulesTable, d.PreferencesTable, d.CapsTable}
	queues := []awssqs.Queue{d.PushQueue, d.DeadLetterQueue, d.EconomyDeadLetterQueue, d.DeviceEventsQueue, d.DeviceEventsDeadLetterQueue, d.DeviceEventsUndeliveredQueue}
	if d.OrdersTable != nil {
		tables = append(tables, d.OrdersTable)
		queues = append(queues, d.OrdersQueue, d.OrdersDeadLetterQueue)
	}
	for _, t := range tables {
		nag.Suppress(t, backups)
		if d.DataKey == nil {
			nag.CheckovSkip(t, [2]string{"CKV_AWS_119", "Encrypted at rest with the AWS managed key (aws/dynamodb), the default chosen for cost; customerManagedKey (CustomerManagedData) puts the tables under the construct's key (docs/operations.md, Encryption)."})
		}
	}
	if d.DataKey != nil {
		queues = []awssqs.Queue{d.DeviceEventsQueue, d.DeviceEventsDeadLetterQueue, d.DeviceEventsUndeliveredQueue} // stay under SQS-managed keys
	}
	for _, q := range queues {
		nag.CheckovSkip(q, [2]string{"CKV_AWS_27", "Encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled: true); this check only recognizes KmsMasterKeyId and misfires on SQS-managed SSE."})
	}
	if p := nag.DefaultPolicy(d.StateMachine.Role()); p != nil {
		nag.Suppress(p, inlinePolicy, nag.NewRule("AwsSolutions-IAM5",
			"CloudWatch Logs vended delivery (logs:CreateLogDelivery, ...) and X-Ray have no resource-level permissions: AWS requires \"*\" for the state machine's logging and tracing.", `^Resource::\*$`))
	}
	if p := d.StateMachine.Node().Scope().Node().TryFindChild(jsii.String("ExecutionsKeyPolicy")); p != nil {
		nag.Suppress(p, inlinePolicy)
	}
	nag.Suppress(d.DeviceEventsUndeliveredQueue, nag.NewRule("AwsSolutions-SQS3",
		"It is a dead-letter queue: the device events subscription's (SNS redrive policy), which cdk-nag recognizes only in a queue's RedrivePolicy."))
}

var backups = nag.NewRule("NIST.800.53.R5-DynamoDBInBackupPlan", "Point-in-time recovery (35 days) is on and retained tables have deletion protection; an AWS Backup plan is an account-level policy: add the tables to yours.")
