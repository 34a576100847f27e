package pushctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var accuracyCommand = command{
	name:    "accuracy",
	usage:   "[--since D] [--limit N]",
	summary: "how late pushes went out, per engine: count, mean, p50, p95, p99, max, early",
	notes: "Reads the delivery log's sent records of the last --since: lateness is from the due time to\n" +
		"SNS's confirmation. Percentiles are nearest-rank. Every delivery, then each engine side by\n" +
		"side: stepfunctions and economy, and queue for pushes a producer put on the queue itself\n" +
		"(records written before the sender recorded the engine count as stepfunctions). early\n" +
		"counts deliveries confirmed before their due time: it should be 0. A push the recipient's\n" +
		"quiet hours held is late from their end: the hold is left out of its lateness and reported\n" +
		"apart (held: how many deliveries were held, and for how long).",
	options: func() options { return &accuracyOptions{} },
}

// The engines always reported; the delivery log's engine attribute may also say "queue" (a
// push a producer put on the queue itself).
const (
	engineStepFunctions = "stepfunctions"
	engineEconomy       = "economy"
)

type accuracyOptions struct {
	since time.Duration
	limit int
}

func (o *accuracyOptions) define(fs *flag.FlagSet) {
	fs.DurationVar(&o.since, "since", time.Hour, "deliveries sent in this last period")
	fs.IntVar(&o.limit, "limit", 100000, "at most this many deliveries")
}

func (o *accuracyOptions) run(ctx context.Context, a *App, common commonFlags, _ []string) error {
	if o.since <= 0 {
		return usagef("--since must be positive, got %v", o.since)
	}
	if o.limit < 1 {
		return usagef("--limit must be at least 1, got %d", o.limit)
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	table := b.Outputs["DeliveriesTableName"]
	if table == "" {
		return fmt.Errorf("stack %s has no DeliveriesTableName output", common.target.Stack)
	}
	since := now().Add(-o.since).UTC().Format(time.RFC3339Nano)
	in := &dynamodb.ScanInput{
		TableName:                aws.String(table),
		FilterExpression:         aws.String("#s = :sent AND sentAt >= :since AND attribute_exists(latenessMs)"),
		ProjectionExpression:     aws.String("latenessMs, heldMs, #e"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "engine"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":sent": &ddbtypes.AttributeValueMemberS{Value: "sent"}, ":since": &ddbtypes.AttributeValueMemberS{Value: since},
		},
	}
	var ms, held []int64
	byEngine := map[string][]int64{engineStepFunctions: nil, engineEconomy: nil}
	for len(ms) < o.limit {
		out, err := b.Scanner.Scan(ctx, in)
		if err != nil {
			return fmt.Errorf("read the delivery log %s: %w", table, err)
		}
		for _, item := range out.Items {
			if v, ok := item["latenessMs"].(*ddbtypes.AttributeValueMemberN); ok {
				if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil && len(ms) < o.limit {
					ms = append(ms, n)
					engine := engineStepFunctions
					if e, ok := item["engine"].(*ddbtypes.AttributeValueMemberS); ok && e.Value != "" {
						engine = e.Value
					}
					byEngine[engine] = append(byEngine[engine], n)
					if h, ok := item["heldMs"].(*ddbtypes.AttributeValueMemberN); ok {
						if n, err := strconv.ParseInt(h.Value, 10, 64); err == nil {
							held = append(held, n)
						}
					}
				}
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	st := Summarise(ms)
	engines := map[string]Stats{}
	for e, v := range byEngine {
		engines[e] = Summarise(v)
	}
	if common.json {
		return a.printJSON(struct {
			Since string `json:"since"`
			Stats
			Engines map[string]Stats `json:"engines"`
			// Held: the holds of quiet hours (ms) of the deliveries they held, left out of lateness.
			Held Stats `json:"held"`
		}{since, st, engines, Summarise(held)})
	}
	if st.Count == 0 {
		fmt.Fprintf(a.Stdout, "no deliveries sent since %s\n", since)
		return nil
	}
	fmt.Fprintf(a.Stdout, "deliveries sent since %s: %d\nlateness (due time to SNS confirmation), ms: mean %.0f, p50 %d, p99 %d, max %d, min %d\n",
		since, st.Count, st.Mean, st.P50, st.P99, st.Max, st.Min)
	printEngines(a.Stdout, engines)
	if h := Summarise(held); h.Count > 0 {
		fmt.Fprintf(a.Stdout, "held by quiet hours (left out of lateness): %d deliveries, ms: mean %.0f, p50 %d, max %d\n",
			h.Count, h.Mean, h.P50, h.Max)
	}
	return nil
}

// printEngines writes the engines' lateness side by side: stepfunctions, economy, then any
// other in name order; "-" where an engine sent nothing.
func printEngines(w io.Writer, engines map[string]Stats) {
	names := []string{engineStepFunctions, engineEconomy}
	for _, e := range slices.Sorted(maps.Keys(engines)) {
		if !slices.Contains(names, e) {
			names = append(names, e)
		}
	}
	width := len("engine")
	for _, e := range names {
		width = max(width, len(e))
	}
	row := func(cells ...string) {
		fmt.Fprintf(w, "%-*s", width, cells[0])
		for _, c := range cells[1:] {
			fmt.Fprintf(w, " %8s", c)
		}
		fmt.Fprintln(w)
	}
	row("engine", "count", "mean", "p50", "p95", "p99", "max", "early")
	for _, e := range names {
		st := engines[e]
		if st.Count == 0 {
			row(e, "0", "-", "-", "-", "-", "-", "-")
			continue
		}
		d := func(v int64) string { return strconv.FormatInt(v, 10) }
		row(e, strconv.Itoa(st.Count), fmt.Sprintf("%.0f", st.Mean), d(st.P50), d(st.P95), d(st.P99), d(st.Max), strconv.Itoa(st.Early))
	}
}

// Stats summarises latenesses in milliseconds.
type Stats struct {
	Count int     `json:"count"`
	Mean  float64 `json:"meanMs"`
	P50   int64   `json:"p50Ms"`
	P95   int64   `json:"p95Ms"`
	P99   int64   `json:"p99Ms"`
	Max   int64   `json:"maxMs"`
	Min   int64   `json:"minMs"`
	// Early counts latenesses below zero: deliveries SNS confirmed before their due time.
	Early int `json:"early"`
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
	early := 0
	for _, v := range s {
		sum += float64(v)
		if v < 0 {
			early++
		}
	}
	rank := func(p float64) int64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return Stats{Count: len(s), Mean: sum / float64(len(s)), P50: rank(50), P95: rank(95), P99: rank(99),
		Min: s[0], Max: s[len(s)-1], Early: early}
}
