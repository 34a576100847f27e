// Package awsadapters implements the delivery ports with the AWS SDK: the device registry and
// the delivery log on DynamoDB, the publisher on SNS. The SDK clients sit behind interfaces
// holding only the methods used, so tests pass fakes and inspect the requests.
package awsadapters

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/delayed-push/delayed-push/internal/delivery"
)

// DynamoQuerier is the part of *dynamodb.Client the registry uses.
type DynamoQuerier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DynamoItems is the part of *dynamodb.Client the delivery log uses.
type DynamoItems interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Registry reads DEVICES_TABLE (userId, endpointArn).
type Registry struct {
	Client DynamoQuerier
	Table  string
}

// Endpoints returns every endpointArn of userID, following pagination.
func (r *Registry) Endpoints(ctx context.Context, userID string) ([]string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		KeyConditionExpression:    aws.String("#u = :u"),
		ProjectionExpression:      aws.String("#e"),
		ExpressionAttributeNames:  map[string]string{"#u": "userId", "#e": "endpointArn"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
	}
	var out []string
	for {
		page, err := r.Client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query %s for user devices: %w", r.Table, err)
		}
		for _, item := range page.Items {
			if s, ok := item["endpointArn"].(*types.AttributeValueMemberS); ok && s.Value != "" {
				out = append(out, s.Value)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Delivery statuses (docs/CONTRACTS.md).
const (
	StatusSending = "sending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
	StatusRetry   = "retry"
)

// DeliveryLog writes DELIVERIES_TABLE (pushId, endpointArn).
type DeliveryLog struct {
	Client DynamoItems
	Table  string
	// Retention sets expiresAt (the table's TTL attribute) to now + Retention on every write.
	Retention time.Duration
}

// claimCondition: the record is new, or waiting for a retry, or a "sending" whose lease has
// expired (its invocation died mid-delivery). "sent" and "failed" are final.
const claimCondition = "attribute_not_exists(pushId) OR #s = :retry OR (#s = :sending AND leaseUntil < :now)"

// holdCondition: the record still carries the lease our claim wrote.
const holdCondition = "#s = :sending AND leaseUntil = :lease"

// Claim is an UpdateItem rather than a PutItem: it creates the record when absent like a put,
// and can also ADD to attempts, which a put would reset.
func (l *DeliveryLog) Claim(ctx context.Context, k delivery.Key, userID string, now time.Time, lease time.Duration) (delivery.Claim, error) {
	until := now.Add(lease).UnixMilli()
	set := "SET #s = :sending, leaseUntil = :lease, updatedAt = :t, expiresAt = :exp"
	values := map[string]types.AttributeValue{
		":sending": s(StatusSending),
		":retry":   s(StatusRetry),
		":now":     n(now.UnixMilli()),
		":lease":   n(until),
		":t":       s(now.UTC().Format(time.RFC3339Nano)),
		":exp":     n(l.expiresAt(now)),
		":one":     n(1),
	}
	if userID != "" {
		set += ", userId = :u"
		values[":u"] = s(userID)
	}
	_, err := l.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(l.Table),
		Key:                                 key(k),
		UpdateExpression:                    aws.String(set + " ADD attempts :one"),
		ConditionExpression:                 aws.String(claimCondition),
		ExpressionAttributeNames:            map[string]string{"#s": "status"},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return delivery.Claim{Outcome: delivery.Claimed, Lease: delivery.Lease{UntilMs: until}}, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return delivery.Claim{}, fmt.Errorf("claim delivery: %w", err)
	}
	// Someone else's record: why? The exception carries it; fall back to a consistent read
	// where it does not (some emulators).
	item := ccf.Item
	if item == nil {
		got, gerr := l.Client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(l.Table), Key: key(k), ConsistentRead: aws.Bool(true),
		})
		if gerr != nil {
			return delivery.Claim{}, fmt.Errorf("read delivery after failed claim: %w", gerr)
		}
		item = got.Item
	}
	switch status(item) {
	case StatusSent, StatusFailed:
		return delivery.Claim{Outcome: delivery.AlreadyDone}, nil
	default:
		// "sending" with a live lease. (A record that vanished or changed in between is also
		// best retried later.)
		return delivery.Claim{Outcome: delivery.Busy}, nil
	}
}

// MarkSent records the SNS message id of a confirmed publish and clears an earlier error.
func (l *DeliveryLog) MarkSent(ctx context.Context, k delivery.Key, lease delivery.Lease, snsMessageID string, now time.Time) error {
	return l.mark(ctx, k, lease, now, "SET #s = :st, snsMessageId = :m, updatedAt = :t, expiresAt = :exp REMOVE #err",
		map[string]types.AttributeValue{":st": s(StatusSent), ":m": s(snsMessageID)})
}

// MarkFailed records a permanent failure: the delivery is final.
func (l *DeliveryLog) MarkFailed(ctx context.Context, k delivery.Key, lease delivery.Lease, reason string, now time.Time) error {
	return l.mark(ctx, k, lease, now, "SET #s = :st, #err = :e, updatedAt = :t, expiresAt = :exp",
		map[string]types.AttributeValue{":st": s(StatusFailed), ":e": s(reason)})
}

// MarkRetry records a transient failure: the next delivery of the message may claim it.
func (l *DeliveryLog) MarkRetry(ctx context.Context, k delivery.Key, lease delivery.Lease, reason string, now time.Time) error {
	return l.mark(ctx, k, lease, now, "SET #s = :st, #err = :e, updatedAt = :t, expiresAt = :exp",
		map[string]types.AttributeValue{":st": s(StatusRetry), ":e": s(reason)})
}

func (l *DeliveryLog) mark(ctx context.Context, k delivery.Key, lease delivery.Lease, now time.Time, update string, values map[string]types.AttributeValue) error {
	values[":sending"] = s(StatusSending)
	values[":lease"] = n(lease.UntilMs)
	values[":t"] = s(now.UTC().Format(time.RFC3339Nano))
	values[":exp"] = n(l.expiresAt(now))
	_, err := l.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.Table),
		Key:                       key(k),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(holdCondition),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#err": "error"},
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return delivery.ErrLostClaim
	}
	if err != nil {
		return fmt.Errorf("update delivery: %w", err)
	}
	return nil
}

func (l *DeliveryLog) expiresAt(now time.Time) int64 {
	return now.Add(l.Retention).Unix()
}

func key(k delivery.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pushId": s(k.PushID), "endpointArn": s(k.EndpointARN)}
}

func status(item map[string]types.AttributeValue) string {
	if v, ok := item["status"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
