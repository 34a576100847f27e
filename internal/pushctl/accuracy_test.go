package pushctl

import (
	"context"
	"encoding/json"
	"testing"

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
	assert.Equal(t, Stats{Count: 100, Mean: 505, P50: 500, P99: 990, Max: 1000, Min: 10}, s)
	assert.Equal(t, Stats{Count: 1, Mean: 7, P50: 7, P99: 7, Max: 7, Min: 7}, Summarise([]int64{7}))
	assert.Equal(t, Stats{}, Summarise(nil))
}

type fakeScanner struct{ pages []*dynamodb.ScanOutput }

func (f *fakeScanner) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	p := f.pages[0]
	f.pages = f.pages[1:]
	return p, nil
}

func TestAccuracyReadsEveryPage(t *testing.T) {
	n := func(v string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"latenessMs": &ddbtypes.AttributeValueMemberN{Value: v}}
	}
	sc := &fakeScanner{pages: []*dynamodb.ScanOutput{
		{Items: []map[string]ddbtypes.AttributeValue{n("100"), n("300")}, LastEvaluatedKey: map[string]ddbtypes.AttributeValue{"pushId": &ddbtypes.AttributeValueMemberS{Value: "x"}}},
		{Items: []map[string]ddbtypes.AttributeValue{n("200")}},
	}}
	out, _, code := run(t, &Backend{Scanner: sc, Outputs: map[string]string{"DeliveriesTableName": "d"}}, "accuracy", "--json")
	require.Equal(t, 0, code)
	var got Stats
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, Stats{Count: 3, Mean: 200, P50: 200, P99: 300, Max: 300, Min: 100}, got)
}
