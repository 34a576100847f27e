package awsadapters

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/shopify"
)

// OrdersAPI is the part of *dynamodb.Client the orders store uses.
type OrdersAPI interface {
	DynamoItems
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	dynamodb.QueryAPIClient
}

// Orders is orders.Store on ORDERS_TABLE (shopDomain, orderId).
type Orders struct {
	Client OrdersAPI
	Table  string
	// Retention is how long a saved order (with its customer's name and e-mail) is kept: the
	// row's expiresAt (epoch seconds, the table's TTL attribute) is its save time plus
	// Retention. 0: DefaultOrderRetention.
	Retention time.Duration
}

// DefaultOrderRetention is how long an order row lives by default (the orders table's TTL).
const DefaultOrderRetention = 90 * 24 * time.Hour

// OrderExpiresAt is the orders table's TTL attribute.
const OrderExpiresAt = "expiresAt"

var _ orders.Store = (*Orders)(nil)

func orderKey(shop, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"shopDomain": s(shop), "orderId": s(id)}
}

func (o *Orders) Save(ctx context.Context, shop string, ord shopify.Order, webhookID string, now time.Time) (bool, orders.Stored, error) {
	item := map[string]types.AttributeValue{
		"shopDomain": s(shop), "orderId": s(ord.ID), "name": s(ord.Name), "totalPrice": s(ord.TotalPrice),
		"currency": s(ord.Currency), "webhookId": s(webhookID), "savedAt": s(now.UTC().Format(time.RFC3339Nano)),
		OrderExpiresAt: n(now.Add(o.retention()).Unix()),
	}
	if ord.CreatedAt != "" {
		item["createdAt"] = s(ord.CreatedAt)
	}
	if c := ord.Customer; c != nil {
		item["customerId"] = s(c.ID)
		customer := map[string]types.AttributeValue{}
		for k, v := range map[string]string{"firstName": c.FirstName, "lastName": c.LastName, "email": c.Email} {
			if v != "" {
				customer[k] = s(v)
			}
		}
		item["customer"] = &types.AttributeValueMemberM{Value: customer}
	}
	lines := make([]types.AttributeValue, 0, len(ord.LineItems))
	for _, li := range ord.LineItems {
		line := map[string]types.AttributeValue{"title": s(li.Title), "quantity": n(int64(li.Quantity))}
		if li.Price != "" {
			line["price"] = s(li.Price)
		}
		if li.SKU != "" {
			line["sku"] = s(li.SKU)
		}
		lines = append(lines, &types.AttributeValueMemberM{Value: line})
	}
	item["lineItems"] = &types.AttributeValueMemberL{Value: lines}
	_, err := o.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(o.Table), Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(orderId)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, orders.Stored{OrderID: ord.ID, WebhookID: webhookID}, nil
	}
	old, err := refusedItem(ctx, o.Client, o.Table, orderKey(shop, ord.ID), err)
	if err != nil {
		return false, orders.Stored{}, fmt.Errorf("put %s: %w", o.Table, err)
	}
	return false, stored(old), nil
}

func (o *Orders) retention() time.Duration {
	if o.Retention > 0 {
		return o.Retention
	}
	return DefaultOrderRetention
}

func stored(item map[string]types.AttributeValue) orders.Stored {
	return orders.Stored{OrderID: str(item, "orderId"), CustomerID: str(item, "customerId"), WebhookID: str(item, "webhookId"),
		PushQueuedAt: str(item, "pushQueuedAt")}
}

func (o *Orders) MarkPushQueued(ctx context.Context, shop, id string, now time.Time) error {
	_, err := o.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(o.Table), Key: orderKey(shop, id),
		UpdateExpression:          aws.String("SET pushQueuedAt = :t"),
		ConditionExpression:       aws.String("attribute_exists(orderId)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": s(now.UTC().Format(time.RFC3339Nano))},
	})
	if err != nil && !isConditionFailed(err) { // redacted meanwhile: nothing to record
		return fmt.Errorf("update %s: %w", o.Table, err)
	}
	return nil
}

func (o *Orders) List(ctx context.Context, shop string) ([]orders.Stored, error) {
	pages := dynamodb.NewQueryPaginator(o.Client, &dynamodb.QueryInput{
		TableName: aws.String(o.Table), KeyConditionExpression: aws.String("shopDomain = :s"),
		ProjectionExpression:      aws.String("orderId, customerId, webhookId, pushQueuedAt"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(shop)}, ConsistentRead: aws.Bool(true),
	})
	var out []orders.Stored
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", o.Table, err)
		}
		for _, it := range page.Items {
			out = append(out, stored(it))
		}
	}
	return out, nil
}

func (o *Orders) Delete(ctx context.Context, shop string, ids []string) error {
	for _, id := range ids {
		if _, err := o.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(o.Table), Key: orderKey(shop, id)}); err != nil {
			return fmt.Errorf("delete from %s: %w", o.Table, err)
		}
	}
	return nil
}

// WebhooksAPI is the part of *dynamodb.Client the webhooks table uses.
type WebhooksAPI interface {
	DynamoItems
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Webhooks is orders.Deliveries on WEBHOOKS_TABLE: partition key webhookId, TTL expiresAt.
// The attributes: state ("received", then "queued"), topic, shopDomain, bodySha256, eventId
// (when sent), triggeredAt, receivedAt, queuedAt, expiresAt. No body, no customer.
type Webhooks struct {
	Client WebhooksAPI
	Table  string
}

var _ orders.Deliveries = (*Webhooks)(nil)

// The states of a webhooks table record.
const (
	WebhookReceived = "received"
	WebhookQueued   = "queued"
)

// Claim is a conditional put: a new id, or one still "received" for the same topic, shop and
// body (Shopify's retry after this receiver failed to queue it).
func (w *Webhooks) Claim(ctx context.Context, d orders.Delivery) (bool, orders.Delivery, error) {
	item := map[string]types.AttributeValue{
		"webhookId": s(d.WebhookID), "state": s(WebhookReceived), "topic": s(d.Topic), "shopDomain": s(d.ShopDomain),
		"bodySha256": s(d.BodySHA256), "triggeredAt": s(d.TriggeredAt.UTC().Format(time.RFC3339Nano)),
		"receivedAt": s(d.ReceivedAt.UTC().Format(time.RFC3339Nano)), "expiresAt": n(d.ExpiresAt.Unix()),
	}
	if d.EventID != "" {
		item["eventId"] = s(d.EventID)
	}
	_, err := w.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(w.Table), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#id) OR (#st = :received AND #tp = :topic AND #sh = :shop AND #bh = :hash)"),
		ExpressionAttributeNames: map[string]string{"#id": "webhookId", "#st": "state", "#tp": "topic", "#sh": "shopDomain", "#bh": "bodySha256"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":received": s(WebhookReceived), ":topic": s(d.Topic), ":shop": s(d.ShopDomain),
			":hash": s(d.BodySHA256)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, d, nil
	}
	old, err := refusedItem(ctx, w.Client, w.Table, map[string]types.AttributeValue{"webhookId": s(d.WebhookID)}, err)
	if err != nil {
		return false, orders.Delivery{}, fmt.Errorf("put %s: %w", w.Table, err)
	}
	return false, webhookRecord(old), nil
}

func webhookRecord(item map[string]types.AttributeValue) orders.Delivery {
	d := orders.Delivery{WebhookID: str(item, "webhookId"), EventID: str(item, "eventId"), Topic: str(item, "topic"),
		ShopDomain: str(item, "shopDomain"), BodySHA256: str(item, "bodySha256"), Queued: str(item, "state") == WebhookQueued}
	d.TriggeredAt, _ = time.Parse(time.RFC3339Nano, str(item, "triggeredAt"))
	d.ReceivedAt, _ = time.Parse(time.RFC3339Nano, str(item, "receivedAt"))
	if sec, err := strconv.ParseInt(num(item, "expiresAt"), 10, 64); err == nil {
		d.ExpiresAt = time.Unix(sec, 0).UTC()
	}
	return d
}

// MarkQueued sets the record "queued" (if it is still there).
func (w *Webhooks) MarkQueued(ctx context.Context, webhookID string, now time.Time) error {
	_, err := w.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(w.Table), Key: map[string]types.AttributeValue{"webhookId": s(webhookID)},
		UpdateExpression:          aws.String("SET #st = :queued, queuedAt = :t"),
		ConditionExpression:       aws.String("attribute_exists(#id)"),
		ExpressionAttributeNames:  map[string]string{"#st": "state", "#id": "webhookId"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":queued": s(WebhookQueued), ":t": s(now.UTC().Format(time.RFC3339Nano))},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("update %s: %w", w.Table, err)
	}
	return nil
}

// OrderQueues sends to the orders queue (the receiver), the push queue (the owner's push) and
// the orders dead-letter queue (what the consumer parks).
type OrderQueues struct {
	Client          SQSSendAPI
	OrdersQueueURL  string
	PushQueueURL    string
	DeadLetterQueue string
}

// Send puts a queued webhook on the orders queue.
func (q *OrderQueues) Send(ctx context.Context, body string) error {
	_, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.OrdersQueueURL), MessageBody: aws.String(body)})
	return err
}

// PushSender puts pushes on the push queue.
type PushSender struct{ Queues *OrderQueues }

func (p PushSender) Send(ctx context.Context, ps push.Push) error {
	_, err := p.Queues.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.Queues.PushQueueURL), MessageBody: aws.String(string(push.Encode(ps)))})
	return err
}

// OrderParker parks messages on the orders dead-letter queue.
type OrderParker struct {
	Queues *OrderQueues
	Now    func() time.Time
}

func (p OrderParker) Park(ctx context.Context, body, reason string) error {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	_, err := p.Queues.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(p.Queues.DeadLetterQueue), MessageBody: aws.String(body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"parkReason": {DataType: aws.String("String"), StringValue: aws.String(shorten(reason, 1000))},
			"parkedAt":   {DataType: aws.String("String"), StringValue: aws.String(now.UTC().Format(time.RFC3339))},
		},
	})
	return err
}

// SecretsAPI is the part of *secretsmanager.Client the webhook receiver uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretFetcher returns a function reading a secret's current string value.
func SecretFetcher(c SecretsAPI, secretID string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
		if err != nil {
			return "", fmt.Errorf("reading secret %s: %w", secretID, err)
		}
		return aws.ToString(out.SecretString), nil
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
