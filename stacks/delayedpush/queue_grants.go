package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// The SQS L2's grantSendMessages and the SQS event source (grantConsumeMessages) also grant
// sqs:GetQueueUrl and sqs:GetQueueAttributes (and ChangeMessageVisibility), and, on a queue
// under a customer managed key, kms:Encrypt, kms:ReEncrypt* and kms:GenerateDataKey* without
// kms:ViaService. Nothing here calls those: the functions get queue URLs from their
// environment, and the key is granted through SQS only (DelayedPush.useDataKey).

// grantSend lets grantee put messages on queues: sqs:SendMessage, nothing else.
func grantSend(grantee awsiam.IGrantable, queues ...awssqs.IQueue) awsiam.Grant {
	arns := make([]*string, 0, len(queues))
	for _, q := range queues {
		arns = append(arns, q.QueueArn())
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings("sqs:SendMessage"), ResourceArns: &arns,
	})
}

// consume makes queue an event source of fn, with opts (EventSourceArn is set here), and grants
// the function's role what Lambda's poller calls with it: sqs:ReceiveMessage, sqs:DeleteMessage
// and sqs:GetQueueAttributes (the AWS Lambda Developer Guide, "Using Lambda with Amazon SQS",
// execution role permissions: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html;
// the AWSLambdaSQSQueueExecutionRole managed policy holds the same three). The mapping keeps the
// construct id the SQS event source gives it, so its logical id does not change.
func consume(fn awslambda.Function, queue awssqs.IQueue, opts awslambda.EventSourceMappingOptions) awslambda.EventSourceMapping {
	opts.EventSourceArn = queue.QueueArn()
	esm := fn.AddEventSourceMapping(jsii.String("SqsEventSource:"+*awscdk.Names_NodeUniqueId(queue.Node())), &opts)
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
		Resources: &[]*string{queue.QueueArn()},
	}))
	return esm
}
