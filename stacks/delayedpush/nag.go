package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// The security checks (package security, cdk-nag) read their suppressions from each
// resource's "cdk_nag" metadata, so the construct carries them without depending on cdk-nag.
// Each sits on the narrowest resource and says why; IAM5 names the wildcard it admits.

type nagRule struct {
	id        string
	reason    string
	appliesTo []string // regular expressions of the findings (IAM5 "Resource::..."), "" none
}

// cfnOf is c itself when it is a CloudFormation resource, else its default child (nil when
// it has none).
func cfnOf(c constructs.IConstruct) awscdk.CfnResource {
	if c == nil {
		return nil
	}
	if res, ok := c.(awscdk.CfnResource); ok {
		return res
	}
	res, _ := c.Node().DefaultChild().(awscdk.CfnResource)
	return res
}

func nagSuppress(c constructs.IConstruct, rules ...nagRule) {
	res := cfnOf(c)
	if res == nil {
		return
	}
	var list []map[string]any
	if old, ok := res.GetMetadata(jsii.String("cdk_nag")).(map[string]any); ok {
		if l, ok := old["rules_to_suppress"].([]any); ok {
			for _, r := range l {
				if m, ok := r.(map[string]any); ok {
					list = append(list, m)
				}
			}
		}
	}
	for _, r := range rules {
		m := map[string]any{"id": r.id, "reason": r.reason}
		if len(r.appliesTo) > 0 {
			var at []any
			for _, re := range r.appliesTo {
				at = append(at, map[string]any{"regex": "/" + re + "/g"})
			}
			m["applies_to"] = at
		}
		list = append(list, m)
	}
	res.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": list})
}

// checkovSkip records checkov checks that do not apply to a resource, with why, in the
// resource's "checkov" metadata (checkov reads skips there).
func checkovSkip(c constructs.IConstruct, skips ...[2]string) {
	res := cfnOf(c)
	if res == nil {
		return
	}
	var list []map[string]any
	for _, sk := range skips {
		list = append(list, map[string]any{"id": sk[0], "comment": sk[1]})
	}
	res.AddMetadata(jsii.String("checkov"), map[string]any{"skip": list})
}

// defaultPolicy is the CloudFormation policy CDK grants write to for a role, or nil.
func defaultPolicy(role awsiam.IRole) constructs.IConstruct {
	if r, ok := role.(awsiam.Role); ok {
		if p := r.Node().TryFindChild(jsii.String("DefaultPolicy")); p != nil {
			return p.Node().DefaultChild()
		}
	}
	return nil
}

var (
	xrayWildcard = nagRule{"AwsSolutions-IAM5", "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions: AWS requires \"*\" (active tracing).", []string{`^Resource::\*$`}}
	inlinePolicy = nagRule{"NIST.800.53.R5-IAMNoInlinePolicy", "One role per function with a policy built from grants scoped to this stack's resources; a managed policy would be shared and broader. Producers get the ProducerPolicy managed policy.", nil}
	endpoints    = nagRule{"AwsSolutions-IAM5", "SNS platform endpoints are created at run time, one per device: the wildcard is the platform application's own endpoints (endpoint/GCM/APP/*), nothing else.", []string{`^Resource::.*:endpoint/GCM/.*/\*$`}}
	executions   = nagRule{"AwsSolutions-IAM5", "Executions are created at run time, one per scheduled push: the wildcard is this state machine's executions only.", []string{`^Resource::.*:execution:.*:\*$`}}
	apiRoutes    = nagRule{"AwsSolutions-IAM5", "execute-api:Invoke on the HTTP API's own routes: a path parameter ({key}, {deviceId}, {userId}) is a value per call, so the route's ARN ends in \"*\" there (METHOD/pushes/*), nothing wider.", []string{`^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<.*Http.*>/\$default/(GET|PUT|DELETE|POST)/.*\*.*$`}}
	indexes      = nagRule{"AwsSolutions-IAM5", "The schedules table's sparse index \"pending\" (listing pending pushes); CDK's grant names the table's indexes.", []string{`^Resource::<.*Schedules.*\.Arn>/index/\*$`}}
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
	checkovSkip(fn,
		[2]string{"CKV_AWS_117", noVPC},
		[2]string{"CKV_AWS_116", dlq},
		[2]string{"CKV_AWS_115", concurrency},
		[2]string{"CKV_AWS_173", "The environment holds resource names and ARNs only, no secret (the Shopify secret is read from Secrets Manager); Lambda encrypts it at rest with its service key."},
	)
	nagSuppress(fn,
		nagRule{"NIST.800.53.R5-LambdaInsideVPC", "It calls only AWS APIs (DynamoDB, SQS, SNS, Secrets Manager) over TLS with IAM; there is nothing in a VPC to reach, and VPC endpoints for each would cost more than the function.", nil},
		nagRule{"NIST.800.53.R5-LambdaDLQ", dlq, nil},
		nagRule{"NIST.800.53.R5-LambdaConcurrency", concurrency, nil},
	)
	if p := defaultPolicy(fn.Role()); p != nil {
		nagSuppress(p, xrayWildcard, inlinePolicy)
	}
}

// suppressFindings records the construct's accepted findings, once everything is created.
func suppressFindings(d *DelayedPush) {
	suppressFunction(d.SenderFunction, true)
	nagSuppress(defaultPolicy(d.SenderFunction.Role()), endpoints, indexes)
	suppressFunction(d.DeviceEventsFunction, true)
	if d.ApiFunction != nil {
		suppressFunction(d.ApiFunction, false)
		nagSuppress(defaultPolicy(d.ApiFunction.Role()), endpoints, indexes, executions)
	}
	if d.ShopifyWebhookFunction != nil {
		suppressFunction(d.ShopifyWebhookFunction, false)
		suppressFunction(d.ShopifyOrdersFunction, true)
		nagSuppress(d.OrdersTable, backups)
		if secret, ok := d.ShopifySecret.(awssecretsmanager.Secret); ok {
			rotation := "The Shopify client secret is issued by Shopify and rotated in Shopify's dashboard, not by a Lambda: store {\"current\",\"previous\"} while both are valid (README, Shopify orders)."
			nagSuppress(secret, nagRule{"AwsSolutions-SMG4", rotation, nil}, nagRule{"NIST.800.53.R5-SecretsManagerRotationEnabled", rotation, nil})
		}
	}
	tables := []awsdynamodb.Table{d.DevicesTable, d.DeviceOwnersTable, d.DeliveriesTable, d.SchedulesTable}
	queues := []awssqs.Queue{d.PushQueue, d.DeadLetterQueue, d.DeviceEventsQueue, d.DeviceEventsDeadLetterQueue, d.DeviceEventsUndeliveredQueue}
	if d.OrdersTable != nil {
		tables = append(tables, d.OrdersTable)
		queues = append(queues, d.OrdersQueue, d.OrdersDeadLetterQueue)
	}
	for _, t := range tables {
		nagSuppress(t, backups)
		if d.DataKey == nil {
			checkovSkip(t, [2]string{"CKV_AWS_119", "Encrypted at rest with the AWS managed key (aws/dynamodb), the default chosen for cost; customerManagedKey (CustomerManagedData) puts the tables under the construct's key (README, Running in production)."})
		}
	}
	if d.DataKey != nil {
		queues = []awssqs.Queue{d.DeviceEventsQueue, d.DeviceEventsDeadLetterQueue, d.DeviceEventsUndeliveredQueue} // stay under SQS-managed keys
	}
	for _, q := range queues {
		checkovSkip(q, [2]string{"CKV_AWS_27", "Encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled: true); this check only recognizes KmsMasterKeyId and misfires on SQS-managed SSE."})
	}
	if p := defaultPolicy(d.StateMachine.Role()); p != nil {
		nagSuppress(p, inlinePolicy, nagRule{"AwsSolutions-IAM5",
			"CloudWatch Logs vended delivery (logs:CreateLogDelivery, ...) and X-Ray have no resource-level permissions: AWS requires \"*\" for the state machine's logging and tracing.",
			[]string{`^Resource::\*$`}})
	}
	if p := d.StateMachine.Node().Scope().Node().TryFindChild(jsii.String("ExecutionsKeyPolicy")); p != nil {
		nagSuppress(p, inlinePolicy)
	}
	nagSuppress(d.DeviceEventsUndeliveredQueue, nagRule{"AwsSolutions-SQS3",
		"It is a dead-letter queue: the device events subscription's (SNS redrive policy), which cdk-nag recognizes only in a queue's RedrivePolicy.", nil})
}

var backups = nagRule{"NIST.800.53.R5-DynamoDBInBackupPlan", "Point-in-time recovery (35 days) is on and retained tables have deletion protection; an AWS Backup plan is an account-level policy: add the tables to yours.", nil}
