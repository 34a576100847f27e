package pushctl

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Stats summarises latenesses in milliseconds.
type Stats struct {
	Count int     `json:"count"`
	Mean  float64 `json:"meanMs"`
	P50   int64   `json:"p50Ms"`
	P99   int64   `json:"p99Ms"`
	Max   int64   `json:"maxMs"`
	Min   int64   `json:"minMs"`
}

// Summarise computes the stats of ms; percentiles are nearest-rank (the smallest value with at
// least p% of the values at or below it), so each is a lateness that really happened.
func Summarise(ms []int64) Stats {
	if len(ms) == 0 {
		return Stats{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	rank := func(p float64) int64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return Stats{Count: len(s), Mean: sum / float64(len(s)), P50: rank(50), P99: rank(99), Min: s[0], Max: s[len(s)-1]}
}

func runAccuracy(a *App, ctx context.Context, c *call) error {
	if c.since <= 0 {
		return usagef("--since must be positive, got %v", c.since)
	}
	if c.limit < 1 {
		return usagef("--limit must be at least 1, got %d", c.limit)
	}
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	table := b.Outputs["DeliveriesTableName"]
	if table == "" {
		return fmt.Errorf("stack %s has no DeliveriesTableName output", c.target.Stack)
	}
	since := now().Add(-c.since).UTC().Format(time.RFC3339Nano)
	in := &dynamodb.ScanInput{
		TableName:                aws.String(table),
		FilterExpression:         aws.String("#s = :sent AND sentAt >= :since AND attribute_exists(latenessMs)"),
		ProjectionExpression:     aws.String("latenessMs"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":sent": &ddbtypes.AttributeValueMemberS{Value: "sent"}, ":since": &ddbtypes.AttributeValueMemberS{Value: since},
		},
	}
	var ms []int64
	for len(ms) < c.limit {
		out, err := b.Scanner.Scan(ctx, in)
		if err != nil {
			return fmt.Errorf("read the delivery log %s: %w", table, err)
		}
		for _, item := range out.Items {
			if v, ok := item["latenessMs"].(*ddbtypes.AttributeValueMemberN); ok {
				if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil && len(ms) < c.limit {
					ms = append(ms, n)
				}
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	st := Summarise(ms)
	if c.json {
		return a.printJSON(struct {
			Since string `json:"since"`
			Stats
		}{since, st})
	}
	if st.Count == 0 {
		fmt.Fprintf(a.Stdout, "no deliveries sent since %s\n", since)
		return nil
	}
	fmt.Fprintf(a.Stdout, "deliveries sent since %s: %d\nlateness (due time to SNS confirmation), ms: mean %.0f, p50 %d, p99 %d, max %d, min %d\n",
		since, st.Count, st.Mean, st.P50, st.P99, st.Max, st.Min)
	return nil
}

// parkingAttributes are what the sender adds when it parks a push; a redrive drops them so the
// push starts afresh (requeues: the count of requeues without progress).
var parkingAttributes = map[string]bool{"parkReason": true, "parkedAt": true, "receiveCount": true, "invalidField": true, "requeues": true}

type redriven struct {
	MessageID  string `json:"messageId"`
	PushID     string `json:"pushId,omitempty"`
	ParkReason string `json:"parkReason,omitempty"`
}

func runRedrive(a *App, ctx context.Context, c *call) error {
	if c.max < 1 {
		return usagef("--max must be at least 1, got %d", c.max)
	}
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	dlq, pushQueue := b.Outputs["DeadLetterQueueUrl"], b.Outputs["PushQueueUrl"]
	if dlq == "" || pushQueue == "" {
		return fmt.Errorf("stack %s has no DeadLetterQueueUrl or PushQueueUrl output", c.target.Stack)
	}
	var moved []redriven
	var held []string // receipt handles a dry run gives back
	defer func() {
		for _, h := range held {
			_, _ = b.Queues.ChangeMessageVisibility(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(dlq), ReceiptHandle: aws.String(h), VisibilityTimeout: 0})
		}
	}()
	for len(moved) < c.max {
		out, err := b.Queues.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: int32(min(10, c.max-len(moved))), WaitTimeSeconds: 1,
			// Hidden while this run lasts, so a message is seen once.
			VisibilityTimeout: 60, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return fmt.Errorf("receive from the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			r := redriven{MessageID: aws.ToString(m.MessageId), PushID: attrValue(m, "pushId"), ParkReason: attrValue(m, "parkReason")}
			if c.dryRun {
				held = append(held, aws.ToString(m.ReceiptHandle))
				moved = append(moved, r)
				continue
			}
			attrs := map[string]sqstypes.MessageAttributeValue{}
			for k, v := range m.MessageAttributes {
				if !parkingAttributes[k] {
					attrs[k] = v
				}
			}
			if _, err := b.Queues.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(pushQueue), MessageBody: m.Body, MessageAttributes: attrs}); err != nil {
				held = append(held, aws.ToString(m.ReceiptHandle))
				return fmt.Errorf("send %s to the push queue (it stays on the dead-letter queue; %d moved before it): %w", r.MessageID, len(moved), err)
			}
			if _, err := b.Queues.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("%s is on the push queue but could not be deleted from the dead-letter queue (it may be sent twice; the delivery log keeps devices from getting it twice): %w", r.MessageID, err)
			}
			moved = append(moved, r)
		}
	}
	if c.json {
		return a.printJSON(struct {
			DryRun   bool       `json:"dryRun"`
			Messages []redriven `json:"messages"`
		}{c.dryRun, append([]redriven{}, moved...)})
	}
	verb := "moved to the push queue"
	if c.dryRun {
		verb = "would move (dry run)"
	}
	fmt.Fprintf(a.Stdout, "%d %s\n", len(moved), verb)
	for _, r := range moved {
		fmt.Fprintf(a.Stdout, "  %s push %s: %s\n", r.MessageID, r.PushID, r.ParkReason)
	}
	return nil
}

func attrValue(m sqstypes.Message, name string) string {
	if v, ok := m.MessageAttributes[name]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}
