package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// The construct's two keys, so that whoever may use one cannot use the other:
//
//   - EncryptionKey (yours, or a new one: the "topics key") encrypts what AWS services write
//     and read for the stack: the alarm and device events topics (CloudWatch and SNS publish
//     to them), every log group (CloudWatch Logs) and the Shopify secret (Secrets Manager, for
//     the webhook function).
//   - DataKey (with CustomerManagedData only) encrypts the pushes and the device registry: the
//     tables, the push and orders queues and the state machine's executions. Roles use it only
//     through the service that holds the data (kms:ViaService), the state machine's role and
//     the callers of Step Functions only for this state machine's executions (the encryption
//     context Step Functions sets), and only with the two actions those services call for
//     them: kms:Decrypt and kms:GenerateDataKey (no Encrypt, no ReEncrypt).

// Services (kms:ViaService) that call KMS for a principal on the data it keeps.
const (
	viaSQS            = "sqs"
	viaDynamoDB       = "dynamodb"
	viaStepFunctions  = "states"
	viaSecretsManager = "secretsmanager"
)

// dataKeyActions are what SQS (SendMessage: GenerateDataKey and Decrypt; ReceiveMessage:
// Decrypt), DynamoDB and Step Functions (StartExecution, DescribeExecution) call on a
// principal's behalf under a customer managed key.
var dataKeyActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}

// viaService is what kms:ViaService holds when service calls KMS in this stack's region:
// SERVICE.REGION.amazonaws.com.
func viaService(scope constructs.IConstruct, service string) *string {
	stack := awscdk.Stack_Of(scope)
	return jsii.String(service + "." + *stack.Region() + "." + *stack.UrlSuffix())
}

// newDataKey is the customer managed key of the pushes and the device registry.
func newDataKey(c constructs.Construct, s settings) awskms.Key {
	key := awskms.NewKey(c, jsii.String("DataKey"), &awskms.KeyProps{
		Description:       jsii.String("Delayed Push: the pushes and the device registry (tables, push and orders queues, state machine executions)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     s.removal,
	})
	allowStateMachineLogDelivery(key)
	return key
}

// allowStateMachineLogDelivery lets CloudWatch Logs' log delivery decrypt what the state
// machine logs under key, for this account's deliveries only. A state machine under a customer
// managed key encrypts its log events with that key (its role calls kms:GenerateDataKey with
// the encryption context SourceArn = arn:aws:logs:REGION:ACCOUNT:*, see stateMachineKeyPolicy),
// and delivery.logs.amazonaws.com decrypts them before it writes them to the log group, which
// encrypts them again with the topics key.
//
// Sources: the Step Functions Developer Guide, "Data at rest encryption"
// (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html: the key
// policy statement for delivery.logs.amazonaws.com, kms:Decrypt, and the role's
// kms:GenerateDataKey with kms:EncryptionContext:SourceArn), and the CloudWatch Logs User
// Guide, "Enabling logging from AWS services"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html:
// delivery.logs.amazonaws.com restricted with aws:SourceAccount and aws:SourceArn
// arn:aws:logs:REGION:ACCOUNT:*). The Step Functions guide's statement has no condition; the
// conditions here are the ones CloudWatch Logs documents for its delivery service, and the
// encryption context is the one the role encrypts under.
func allowStateMachineLogDelivery(key awskms.Key) {
	stack := awscdk.Stack_Of(key)
	logs := logDeliverySource(stack)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("LogDeliveryDecryptsStateMachineLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("delivery.logs.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account(), "kms:EncryptionContext:SourceArn": logs},
			"ArnLike":      map[string]any{"aws:SourceArn": logs},
		},
	}), nil)
}

// logDeliverySource is arn:aws:logs:REGION:ACCOUNT:*, the encryption context Step Functions
// encrypts log events under and the source of CloudWatch Logs' deliveries in this account.
func logDeliverySource(stack awscdk.Stack) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("logs"), Resource: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
}

// keyUse is one statement of KMS permissions on a key.
type keyUse struct {
	key        awskms.IKey
	actions    []string
	conditions map[string]any
}

func (u keyUse) statement(sid string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String(sid), Actions: jsii.Strings(u.actions...), Resources: &[]*string{u.key.KeyArn()}, Conditions: &u.conditions,
	})
}

func (u keyUse) grant(grantee awsiam.IGrantable) awsiam.Grant {
	conditions := map[string]*map[string]any{}
	for op, c := range u.conditions {
		m := c.(map[string]any)
		conditions[op] = &m
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings(u.actions...), ResourceArns: &[]*string{u.key.KeyArn()}, Conditions: &conditions,
	})
}

// dataKeyThrough is the data key's use through services (viaSQS, viaDynamoDB): kms:Decrypt and
// kms:GenerateDataKey when one of them calls KMS for the principal. With
// CustomerManagedDataUpgrade, also kms:Decrypt of the topics key on the same terms: what it
// encrypted before the data key existed. None without a data key.
func (d *DelayedPush) dataKeyThrough(services ...string) []keyUse {
	if d.DataKey == nil {
		return nil
	}
	var via any = viaService(d.Construct, services[0])
	if len(services) > 1 {
		var all []*string
		for _, s := range services {
			all = append(all, viaService(d.Construct, s))
		}
		via = all
	}
	conditions := map[string]any{"StringEquals": map[string]any{"kms:ViaService": via}}
	uses := []keyUse{{d.DataKey, dataKeyActions, conditions}}
	if d.s.cmkUpgrade {
		uses = append(uses, keyUse{d.EncryptionKey, []string{"kms:Decrypt"}, conditions})
	}
	return uses
}

// dataKeyForExecutions is the data key's use through Step Functions for this state machine's
// executions only (StartExecution, DescribeExecution): Step Functions encrypts them under the
// encryption context aws:states:stateMachineArn (the Step Functions Developer Guide, "Data at
// rest encryption", https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
// The ARN is the state machine's own (a Ref): it has no physical name, so one built from a
// name would never match.
func (d *DelayedPush) dataKeyForExecutions() []keyUse {
	if d.DataKey == nil {
		return nil
	}
	conditions := map[string]any{"StringEquals": map[string]any{
		"kms:ViaService": viaService(d.Construct, viaStepFunctions),
		"kms:EncryptionContext:aws:states:stateMachineArn": d.StateMachine.StateMachineArn(),
	}}
	uses := []keyUse{{d.DataKey, dataKeyActions, conditions}}
	if d.s.cmkUpgrade {
		uses = append(uses, keyUse{d.EncryptionKey, []string{"kms:Decrypt"}, conditions})
	}
	return uses
}

// useDataKey grants grantee the data key through services (dataKeyThrough).
func (d *DelayedPush) useDataKey(grantee awsiam.IGrantable, services ...string) awsiam.Grant {
	return grantKeyUses(grantee, d.dataKeyThrough(services...))
}

func grantKeyUses(grantee awsiam.IGrantable, uses []keyUse) awsiam.Grant {
	if len(uses) == 0 {
		return awsiam.Grant_Drop(grantee, jsii.String("no customer managed data key"))
	}
	g := uses[0].grant(grantee)
	for _, u := range uses[1:] {
		g = g.Combine(u.grant(grantee))
	}
	return g
}

// grantReadSecret lets grantee read secret's value (GetSecretValue, nothing else) and, when the
// secret is encrypted with a key of this construct, decrypt it through Secrets Manager for
// that secret only (Secrets Manager's encryption context SecretARN).
func grantReadSecret(grantee awsiam.IGrantable, secret awssecretsmanager.ISecret) awsiam.Grant {
	g := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings("secretsmanager:GetSecretValue"), ResourceArns: &[]*string{secret.SecretArn()},
	})
	if key := secret.EncryptionKey(); key != nil {
		g = g.Combine(keyUse{key, []string{"kms:Decrypt"}, map[string]any{"StringEquals": map[string]any{
			"kms:ViaService":                  viaService(secret, viaSecretsManager),
			"kms:EncryptionContext:SecretARN": secret.SecretArn(),
		}}}.grant(grantee))
	}
	return g
}

// DataKeyStatements are what GrantSchedule and GrantSendNow give of the customer managed data
// key, as statements for a managed policy (for roles a grant cannot reach: roles of other
// stacks or accounts): the key through SQS and DynamoDB, then through Step Functions for this
// state machine's executions only; with CustomerManagedDataUpgrade, each followed by the
// topics key on the same terms. None without CustomerManagedData.
func (d *DelayedPush) DataKeyStatements() []awsiam.PolicyStatement {
	var out []awsiam.PolicyStatement
	for i, u := range d.dataKeyThrough(viaSQS, viaDynamoDB) {
		out = append(out, u.statement([]string{"UseTheDataKeyThroughSqsAndDynamoDB", "ReadThePreviousDataKeyThroughSqsAndDynamoDB"}[i]))
	}
	for i, u := range d.dataKeyForExecutions() {
		out = append(out, u.statement([]string{"UseTheDataKeyForExecutions", "ReadThePreviousDataKeyForExecutions"}[i]))
	}
	return out
}
