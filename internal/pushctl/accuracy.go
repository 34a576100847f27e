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
