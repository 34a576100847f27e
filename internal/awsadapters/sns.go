package awsadapters

import (
	"context"
	"errors"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// PublishRetryer retries only throttling, the one class of publish error that proves nothing
// was sent. The SDK's default would also repeat a publish after a 5xx or a timeout, which may
// deliver twice; whether to do that is the delivery guarantee's decision (delivery.Service),
// made after recording the attempt. Build it once: it holds the retry token bucket.
func PublishRetryer() aws.Retryer {
	codes := maps.Clone(retry.DefaultThrottleErrorCodes)
	codes["Throttled"] = struct{}{} // SNS's own code, besides the common "Throttling"
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Retryables = []retry.IsErrorRetryable{
			retry.NoRetryCanceledError{},
			retry.RetryableErrorCode{Codes: codes},
		}
	})
}

// SNSPublishAPI is the part of *sns.Client the publisher uses.
type SNSPublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Publisher publishes to one platform endpoint. The message is the output of
// fcm.BuildMessage, hence MessageStructure "json".
type Publisher struct {
	Client SNSPublishAPI
}

// Publish returns the SNS message id. Errors are returned unwrapped-compatible (errors.As
// still finds the SNS exception) for delivery.Classify.
func (p *Publisher) Publish(ctx context.Context, endpointARN, message string) (string, error) {
	out, err := p.Client.Publish(ctx, &sns.PublishInput{
		TargetArn:        aws.String(endpointARN),
		Message:          aws.String(message),
		MessageStructure: aws.String("json"),
	})
	if err != nil {
		return "", err
	}
	if out == nil || aws.ToString(out.MessageId) == "" {
		// Without an id the publish is not confirmed, so it must not be recorded as sent.
		return "", errors.New("sns publish returned no message id")
	}
	return aws.ToString(out.MessageId), nil
}
