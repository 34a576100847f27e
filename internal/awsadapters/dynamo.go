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

// DynamoItems is the part of *dynamodb.Client the delivery log uses.
type DynamoItems interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// RegistryAPI is the part of *dynamodb.Client the sender's registry uses: the SDK's own
// interface for Query, which its paginator takes, and UpdateItem.
type RegistryAPI interface {
	dynamodb.QueryAPIClient
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Registry is the sender's view of DEVICES_TABLE (userId, endpointArn).
type Registry struct {
	Client RegistryAPI
	Table  string
}

var _ delivery.Registry = (*Registry)(nil)

// Endpoints returns every device of userID with whether it is disabled, following pagination.
func (r *Registry) Endpoints(ctx context.Context, userID string) ([]delivery.Endpoint, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		KeyConditionExpression:    aws.String("#u = :u"),
		ProjectionExpression:      aws.String("#e, enabled, disabledReason"),
		ExpressionAttributeNames:  map[string]string{"#u": "userId", "#e": "endpointArn"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
	}
	var out []delivery.Endpoint
	pages := dynamodb.NewQueryPaginator(r.Client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s for user devices: %w", r.Table, err)
		}
		for _, item := range page.Items {
			if d := deviceOf(item); d.EndpointARN != "" {
				e := delivery.Endpoint{ARN: d.EndpointARN}
				if !d.Enabled {
					e.Disabled = d.DisabledReason
					if e.Disabled == "" {
						e.Disabled = "disabled"
					}
				}
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Disable marks the device disabled with the reason (nothing happens if it has no row).
func (r *Registry) Disable(ctx context.Context, userID, endpointARN, reason string, at time.Time) error {
	_, err := disableDevice(ctx, r.Client, r.Table, userID, endpointARN, reason, at)
	return err
}

// DeliveryLog writes DELIVERIES_TABLE (pushId, endpointArn).
type DeliveryLog struct {
	Client DynamoItems
	Table  string
	// Retention sets expiresAt (the table's TTL attribute) to now + Retention on every write.
	Retention time.Duration
}

// claimCondition: the record is new, or waiting for a retry, or a "sending" whose lease has
// expired (its invocation died mid-delivery). Every other status is final.
const claimCondition = "attribute_not_exists(pushId) OR #s = :retry OR (#s = :sending AND leaseUntil < :now)"

// holdCondition: the record still carries the token our claim wrote.
const holdCondition = "#s = :sending AND claimToken = :tok"

var _ delivery.Log = (*DeliveryLog)(nil)

// Claim is an UpdateItem rather than a PutItem: it creates the record when absent like a put,
// can ADD to attempts (and publishes, for the publish that follows: counted before it is
// made, so that a crash after it leaves it counted), which a put would reset, and returns the
// old item, which tells a fresh claim from the takeover of an attempt that never recorded its
// outcome. Its condition makes a retried claim add nothing twice.
func (l *DeliveryLog) Claim(ctx context.Context, k delivery.Key, req delivery.ClaimRequest) (delivery.Claim, error) {
	set := "SET #s = :sending, leaseUntil = :lease, claimToken = :tok, updatedAt = :t, expiresAt = :exp"
	values := map[string]types.AttributeValue{
		":sending": s(delivery.StatusSending),
		":retry":   s(delivery.StatusRetry),
		":now":     n(req.Now.UnixMilli()),
		":lease":   n(req.Lease.UntilMs),
		":tok":     s(req.Lease.Token),
		":t":       s(req.Now.UTC().Format(time.RFC3339Nano)),
		":exp":     n(l.expiresAt(req.Now)),
		":one":     n(1),
	}
	if req.UserID != "" {
		set += ", userId = :u"
		values[":u"] = s(req.UserID)
	}
	if !req.DueAt.IsZero() {
		set += ", dueAt = :due"
		values[":due"] = s(req.DueAt.UTC().Format(time.RFC3339Nano))
	}
	names := map[string]string{"#s": "status"}
	if req.Engine != "" {
		set += ", #eng = :eng"
		names["#eng"] = "engine"
		values[":eng"] = s(req.Engine)
	}
	add := " ADD attempts :one"
	if req.Publish {
		add += ", publishes :one"
	}
	out, err := l.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(l.Table),
		Key:                                 key(k),
		UpdateExpression:                    aws.String(set + add),
		ConditionExpression:                 aws.String(claimCondition),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		if status(out.Attributes) == delivery.StatusSending {
			return delivery.Claim{Outcome: delivery.Resumed}, nil
		}
		return delivery.Claim{Outcome: delivery.Claimed}, nil
	}
	item, err := l.refused(ctx, k, err)
	if err != nil {
		return delivery.Claim{}, fmt.Errorf("claim delivery: %w", err)
	}
	switch st := status(item); {
	case str(item, "claimToken") == req.Lease.Token:
		// Our own claim: an earlier try of this request succeeded and its answer was lost.
		return delivery.Claim{Outcome: delivery.Claimed}, nil
	case delivery.Final(st):
		return delivery.Claim{Outcome: delivery.AlreadyDone, Status: st}, nil
	case st == delivery.StatusSending:
		until, _ := strconv.ParseInt(num(item, "leaseUntil"), 10, 64)
		return delivery.Claim{Outcome: delivery.Busy, BusyUntil: time.UnixMilli(until)}, nil
	default:
		// The record changed between the write and the read: a race with another claim.
		return delivery.Claim{Outcome: delivery.Busy, BusyUntil: req.Now.Add(time.Second)}, nil
	}
}

// refused returns the item that made a conditional write fail, or err when the write failed
// for another reason. The exception carries the item; where it does not (some emulators), a
// consistent read stands in.
func (l *DeliveryLog) refused(ctx context.Context, k delivery.Key, err error) (map[string]types.AttributeValue, error) {
	return refusedItem(ctx, l.Client, l.Table, key(k), err)
}

// refusedItem is refused for any table: the item (nil when there is none) that made a
// conditional write fail, or err when it failed for another reason.
func refusedItem(ctx context.Context, c DynamoItems, table string, k map[string]types.AttributeValue, err error) (map[string]types.AttributeValue, error) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, err
	}
	if ccf.Item != nil {
		return ccf.Item, nil
	}
	got, gerr := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true),
	})
	if gerr != nil {
		return nil, fmt.Errorf("read item after a failed condition: %w", gerr)
	}
	return got.Item, nil
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// Mark records the outcome of a claimed delivery, if the record still carries the claim; a
// "sending" mark only counts a further publish. Publishes is ADDed, never SET: the claim and
// the sending marks count the publishes as they start, and an outcome only takes back (-1)
// the claim's count when no publish followed. Its condition keeps a retried outcome from
// adding twice; a sending mark retried after its answer was lost may count one publish too
// many, never one too few.
func (l *DeliveryLog) Mark(ctx context.Context, k delivery.Key, lease delivery.Lease, m delivery.Mark) error {
	update := "SET #s = :st, updatedAt = :t, expiresAt = :exp"
	values := map[string]types.AttributeValue{
		":st":      s(m.Status),
		":sending": s(delivery.StatusSending),
		":tok":     s(lease.Token),
		":t":       s(m.Now.UTC().Format(time.RFC3339Nano)),
		":exp":     n(l.expiresAt(m.Now)),
	}
	if m.SNSMessageID != "" {
		update += ", snsMessageId = :m, sentAt = :t"
		values[":m"] = s(m.SNSMessageID)
	}
	if m.LatenessMs != nil {
		update += ", latenessMs = :late"
		values[":late"] = n(*m.LatenessMs)
	}
	if m.HeldMs != nil {
		update += ", heldMs = :held"
		values[":held"] = n(*m.HeldMs)
	}
	if m.Error != "" {
		update += ", #err = :e"
		values[":e"] = s(m.Error)
	}
	if m.Publishes != 0 {
		update += " ADD publishes :p"
		values[":p"] = n(int64(m.Publishes))
	}
	if m.Error == "" {
		update += " REMOVE #err"
	}
	_, err := l.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(l.Table),
		Key:                                 key(k),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(holdCondition),
		ExpressionAttributeNames:            map[string]string{"#s": "status", "#err": "error"},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	item, err := l.refused(ctx, k, err)
	if err != nil {
		return fmt.Errorf("update delivery: %w", err)
	}
	if str(item, "claimToken") == lease.Token && status(item) == m.Status {
		return nil // an earlier try of this request succeeded and its answer was lost
	}
	return delivery.ErrLostClaim
}

func (l *DeliveryLog) expiresAt(now time.Time) int64 {
	return now.Add(l.Retention).Unix()
}

func key(k delivery.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pushId": s(k.PushID), "endpointArn": s(k.EndpointARN)}
}

func status(item map[string]types.AttributeValue) string { return str(item, "status") }

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
