package awsadapters_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
)

// The sender learns the push's engine from its schedules row in the same write that takes the
// row (or from the row that refused it); a row written before the economy engine is the state
// machine's, a key without a row has none.
func TestBeginSendReturnsTheRowsEngine(t *testing.T) {
	row := func(key, state, engine string, rev string) map[string]types.AttributeValue {
		item := map[string]types.AttributeValue{index.Key: sAttr(key), index.State: sAttr(state), index.Revision: nAttr(rev)}
		if engine != "" {
			item[index.Engine] = sAttr(engine)
		}
		return item
	}
	cases := []struct {
		name string
		item map[string]types.AttributeValue
		want delivery.Begun
		// state is the row's state afterwards
		state string
	}{
		{"economy, due", row("k", index.Scheduled, index.EngineEconomy, "1"),
			delivery.Begun{Gate: delivery.GateSend, Current: 1, Engine: "economy"}, index.Sending},
		{"a row without an engine", row("k", index.Scheduled, "", "1"),
			delivery.Begun{Gate: delivery.GateSend, Current: 1, Engine: "stepfunctions"}, index.Sending},
		{"economy, cancelled", row("k", index.Cancelled, index.EngineEconomy, "1"),
			delivery.Begun{Gate: delivery.GateCancelled, Current: 1, Engine: "economy"}, index.Cancelled},
		{"economy, rescheduled", row("k", index.Scheduled, index.EngineEconomy, "2"),
			delivery.Begun{Gate: delivery.GateSuperseded, Current: 2, Engine: "economy"}, index.Scheduled},
		{"economy, sent already (a second copy)", row("k", index.Sent, index.EngineEconomy, "1"),
			delivery.Begun{Gate: delivery.GateSend, Current: 1, Engine: "economy"}, index.Sent},
		{"no row", nil, delivery.Begun{Gate: delivery.GateSend}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table := ddbfake.New(index.Key)
			ctx := context.Background()
			if tc.item != nil {
				_, err := table.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("schedules"), Item: tc.item})
				require.NoError(t, err)
			}
			sc := &awsadapters.Schedules{Client: table, Table: "schedules"}
			got, err := sc.BeginSend(ctx, "k", 1, now)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			if tc.item != nil {
				assert.Equal(t, sAttr(tc.state), table.Get(map[string]types.AttributeValue{index.Key: sAttr("k")})[index.State])
			}
			g, current, err := sc.Begin(ctx, "k", 1, now)
			require.NoError(t, err)
			assert.Equal(t, tc.want.Gate, g)
			assert.Equal(t, tc.want.Current, current)
		})
	}
}

// Quiet hours: a sending row becomes deferred with quietUntil, is taken again by the next
// BeginSend, and its outcome removes quietUntil and records heldMs and the cap.
func TestDeferredRowIsTakenAgainAndFinished(t *testing.T) {
	table := ddbfake.New(index.Key)
	ctx := context.Background()
	_, err := table.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("schedules"), Item: map[string]types.AttributeValue{
		index.Key: sAttr("k"), index.State: sAttr(index.Scheduled), index.Revision: nAttr("1")}})
	require.NoError(t, err)
	sc := &awsadapters.Schedules{Client: table, Table: "schedules"}
	get := func() map[string]types.AttributeValue {
		return table.Get(map[string]types.AttributeValue{index.Key: sAttr("k")})
	}

	_, err = sc.BeginSend(ctx, "k", 1, now)
	require.NoError(t, err)
	until := now.Add(8 * 3600e9)
	require.NoError(t, sc.Defer(ctx, "k", 1, until, now))
	assert.Equal(t, sAttr(index.Deferred), get()[index.State])
	assert.Equal(t, sAttr(index.FormatTime(until)), get()[index.QuietUntil])
	require.NoError(t, sc.Defer(ctx, "k", 2, until, now), "another revision's row is left alone")

	b, err := sc.BeginSend(ctx, "k", 1, until)
	require.NoError(t, err)
	assert.Equal(t, delivery.GateSend, b.Gate)
	assert.Equal(t, sAttr(index.Sending), get()[index.State])
	held := int64(8 * 3600 * 1000)
	require.NoError(t, sc.Finish(ctx, "k", 1, delivery.Finish{State: index.Capped, Result: delivery.OutcomeCapped, Now: until,
		HeldMs: &held, Cap: "3/1d"}))
	row := get()
	assert.Equal(t, sAttr(index.Capped), row[index.State])
	assert.Equal(t, sAttr("3/1d"), row[index.Cap])
	assert.Equal(t, nAttr("28800000"), row[index.HeldMs])
	assert.NotContains(t, row, index.QuietUntil)

	require.NoError(t, sc.Defer(ctx, "k", 1, until, now), "a finished row is not deferred again")
	assert.Equal(t, sAttr(index.Capped), get()[index.State])
}
