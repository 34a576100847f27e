package pushctl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummariseUsesNearestRank(t *testing.T) {
	var ms []int64
	for i := int64(100); i >= 1; i-- {
		ms = append(ms, i*10)
	}
	s := Summarise(ms)
	assert.Equal(t, Stats{Count: 100, Mean: 505, P50: 500, P95: 950, P99: 990, Max: 1000, Min: 10}, s)
	assert.Equal(t, Stats{Count: 1, Mean: 7, P50: 7, P95: 7, P99: 7, Max: 7, Min: 7}, Summarise([]int64{7}))
	assert.Equal(t, Stats{}, Summarise(nil))
}

func TestSummariseCountsEarlyDeliveries(t *testing.T) {
	s := Summarise([]int64{-3, 0, 5, -1})
	assert.Equal(t, 2, s.Early, "below zero: confirmed before the due time")
	assert.Equal(t, int64(-3), s.Min)
}

type fakeScanner struct {
	pages []*dynamodb.ScanOutput
	ins   []dynamodb.ScanInput
}

func (f *fakeScanner) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.ins = append(f.ins, *in)
	p := f.pages[0]
	f.pages = f.pages[1:]
	return p, nil
}

// delivered is a sent delivery record as the scan projects it; engine "" is a record written
// before the sender recorded the engine.
func delivered(latenessMs, engine string) map[string]ddbtypes.AttributeValue {
	item := map[string]ddbtypes.AttributeValue{"latenessMs": &ddbtypes.AttributeValueMemberN{Value: latenessMs}}
	if engine != "" {
		item["engine"] = &ddbtypes.AttributeValueMemberS{Value: engine}
	}
	return item
}

type accuracyJSON struct {
	Stats
	Engines map[string]Stats `json:"engines"`
}

func TestAccuracyReadsEveryPage(t *testing.T) {
	sc := &fakeScanner{pages: []*dynamodb.ScanOutput{
		{Items: []map[string]ddbtypes.AttributeValue{delivered("100", ""), delivered("300", "")}, LastEvaluatedKey: map[string]ddbtypes.AttributeValue{"pushId": &ddbtypes.AttributeValueMemberS{Value: "x"}}},
		{Items: []map[string]ddbtypes.AttributeValue{delivered("200", "")}},
	}}
	out, _, code := run(t, &Backend{Scanner: sc, Outputs: map[string]string{"DeliveriesTableName": "d"}}, "accuracy", "--json")
	require.Equal(t, 0, code)
	var got Stats
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, Stats{Count: 3, Mean: 200, P50: 200, P95: 300, P99: 300, Max: 300, Min: 100}, got)
	require.Len(t, sc.ins, 2)
	assert.Equal(t, "latenessMs, heldMs, #e", aws.ToString(sc.ins[0].ProjectionExpression))
	assert.Equal(t, map[string]string{"#s": "status", "#e": "engine"}, sc.ins[0].ExpressionAttributeNames)
}

// Both engines side by side, in --json under "engines" (the keys of before unchanged, for every
// delivery) and in text as a table; an engine that sent nothing is there with a count of 0.
func TestAccuracyReportsEachEngine(t *testing.T) {
	items := []map[string]ddbtypes.AttributeValue{
		delivered("400", ""), delivered("600", "stepfunctions"),
		delivered("150", "economy"), delivered("250", "economy"), delivered("-20", "economy"),
		delivered("90", "queue"),
	}
	backend := func() *Backend {
		return &Backend{Scanner: &fakeScanner{pages: []*dynamodb.ScanOutput{{Items: items}}}, Outputs: map[string]string{"DeliveriesTableName": "d"}}
	}
	out, _, code := run(t, backend(), "accuracy", "--json")
	require.Equal(t, 0, code)
	var got accuracyJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, 6, got.Count)
	assert.Equal(t, 1, got.Early)
	assert.Equal(t, map[string]Stats{
		"stepfunctions": {Count: 2, Mean: 500, P50: 400, P95: 600, P99: 600, Max: 600, Min: 400},
		"economy":       {Count: 3, Mean: 380.0 / 3, P50: 150, P95: 250, P99: 250, Max: 250, Min: -20, Early: 1},
		"queue":         {Count: 1, Mean: 90, P50: 90, P95: 90, P99: 90, Max: 90, Min: 90},
	}, got.Engines)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	for _, k := range []string{"since", "count", "meanMs", "p50Ms", "p99Ms", "maxMs", "minMs", "p95Ms", "early", "engines"} {
		assert.Contains(t, raw, k)
	}

	text, _, code := run(t, backend(), "accuracy")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	require.Len(t, lines, 6, text)
	assert.Contains(t, lines[1], "lateness (due time to SNS confirmation), ms: mean")
	assert.Equal(t, []string{"engine", "count", "mean", "p50", "p95", "p99", "max", "early"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{"stepfunctions", "2", "500", "400", "600", "600", "600", "0"}, strings.Fields(lines[3]))
	assert.Equal(t, []string{"economy", "3", "127", "150", "250", "250", "250", "1"}, strings.Fields(lines[4]))
	assert.Equal(t, []string{"queue", "1", "90", "90", "90", "90", "90", "0"}, strings.Fields(lines[5]))

	// Only one engine sent anything: the other is listed with nothing to show.
	items = []map[string]ddbtypes.AttributeValue{delivered("100", "economy")}
	text, _, code = run(t, backend(), "accuracy")
	require.Equal(t, 0, code)
	assert.Contains(t, text, "stepfunctions")
	lines = strings.Split(strings.TrimSpace(text), "\n")
	assert.Equal(t, []string{"stepfunctions", "0", "-", "-", "-", "-", "-", "-"}, strings.Fields(lines[3]))
	out, _, _ = run(t, backend(), "accuracy", "--json")
	got = accuracyJSON{}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, Stats{}, got.Engines["stepfunctions"])
}

// A delivery quiet hours held has its lateness from their end (the sender leaves the hold out of
// latenessMs); accuracy reports the holds apart, under "held", and in a line of text.
func TestAccuracyReportsQuietHoursHoldsApart(t *testing.T) {
	heldItem := delivered("300", "stepfunctions")
	heldItem["heldMs"] = &ddbtypes.AttributeValueMemberN{Value: "28800000"}
	items := []map[string]ddbtypes.AttributeValue{delivered("100", "stepfunctions"), heldItem}
	backend := func() *Backend {
		return &Backend{Scanner: &fakeScanner{pages: []*dynamodb.ScanOutput{{Items: items}}}, Outputs: map[string]string{"DeliveriesTableName": "d"}}
	}
	out, _, code := run(t, backend(), "accuracy", "--json")
	require.Equal(t, 0, code)
	var got struct {
		Stats
		Held Stats `json:"held"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, int64(300), got.Max, "the 8 hours held are not lateness")
	assert.Equal(t, Stats{Count: 1, Mean: 28800000, P50: 28800000, P95: 28800000, P99: 28800000, Max: 28800000, Min: 28800000}, got.Held)

	text, _, code := run(t, backend(), "accuracy")
	require.Equal(t, 0, code)
	assert.Contains(t, text, "held by quiet hours (left out of lateness): 1 deliveries, ms: mean 28800000, p50 28800000, max 28800000")
}
