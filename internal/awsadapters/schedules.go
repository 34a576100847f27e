package awsadapters

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
)

// Schedules is the sender's side of SCHEDULES_TABLE (package index names its attributes).
type Schedules struct {
	Client DynamoItems
	Table  string
	// Retention is how long a finished row lives (the table's TTL). Default 30 days.
	Retention time.Duration
}

var _ delivery.Index = (*Schedules)(nil)

// BeginSend: scheduled → sending for this revision; sending already (a redelivery) or deferred
// (held by quiet hours, back when they end) is fine too. A key without a row is sent: the push was queued by someone other than the client.
// Either way the row's engine comes back with the answer, so the sender needs no other read.
func (sc *Schedules) BeginSend(ctx context.Context, key string, rev int, now time.Time) (delivery.Begun, error) {
	out, err := sc.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(sc.Table),
		Key:                 map[string]types.AttributeValue{index.Key: s(key)},
		UpdateExpression:    aws.String("SET #st = :sending, #upd = :now REMOVE #pending"),
		ConditionExpression: aws.String("#rev = :rev AND (#st = :scheduled OR #st = :sending OR #st = :deferred)"),
		ExpressionAttributeNames: map[string]string{"#st": index.State, "#upd": index.UpdatedAt,
			"#pending": index.PendingRecipient, "#rev": index.Revision},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sending": s(index.Sending), ":scheduled": s(index.Scheduled), ":deferred": s(index.Deferred),
			":rev": n(int64(rev)), ":now": s(index.FormatTime(now)),
		},
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return delivery.Begun{Gate: delivery.GateSend, Current: rev, Engine: engineOf(out.Attributes)}, nil
	}
	item, err := refusedItem(ctx, sc.Client, sc.Table, map[string]types.AttributeValue{index.Key: s(key)}, err)
	if err != nil {
		return delivery.Begun{}, fmt.Errorf("claim schedule row: %w", err)
	}
	if len(item) == 0 {
		return delivery.Begun{Gate: delivery.GateSend}, nil
	}
	current, _ := strconv.Atoi(num(item, index.Revision))
	b := delivery.Begun{Gate: delivery.GateSend, Current: current, Engine: engineOf(item)}
	switch {
	case str(item, index.State) == index.Cancelled:
		b.Gate = delivery.GateCancelled
	case current > rev:
		b.Gate = delivery.GateSuperseded
	}
	// Otherwise this revision is done already (a redelivery after the outcome was recorded),
	// or the row is older than the push: the delivery log keeps it from going out twice.
	return b, nil
}

// Begin is BeginSend's gate and the row's revision.
func (sc *Schedules) Begin(ctx context.Context, key string, rev int, now time.Time) (delivery.Gate, int, error) {
	b, err := sc.BeginSend(ctx, key, rev, now)
	return b.Gate, b.Current, err
}

// engineOf is the engine a row names; a row written before the economy engine names none and
// was the state machine's.
func engineOf(row map[string]types.AttributeValue) string {
	if e := str(row, index.Engine); e != "" {
		return e
	}
	return index.EngineStepFunctions
}

// Finish records the outcome, if the row is still this revision's and sending.
func (sc *Schedules) Finish(ctx context.Context, key string, rev int, f delivery.Finish) error {
	retention := sc.Retention
	if retention <= 0 {
		retention = 30 * 24 * time.Hour
	}
	set := "SET #st = :state, #res = :res, #fin = :now, #upd = :now, #eps = :eps, #sent = :sent, #failed = :failed, #exp = :exp"
	names := map[string]string{"#st": index.State, "#res": index.Result, "#fin": index.FinishedAt, "#upd": index.UpdatedAt,
		"#eps": index.Endpoints, "#sent": index.SentCount, "#failed": index.FailedCount, "#exp": index.ExpiresAt,
		"#rev": index.Revision, "#late": index.LatenessMs, "#reason": index.Reason, "#quiet": index.QuietUntil}
	values := map[string]types.AttributeValue{
		":state": s(f.State), ":res": s(string(f.Result)), ":now": s(index.FormatTime(f.Now)),
		":eps": n(int64(f.Endpoints)), ":sent": n(int64(f.Sent)), ":failed": n(int64(f.Failed)),
		":exp": n(f.Now.Add(retention).Unix()), ":rev": n(int64(rev)), ":sending": s(index.Sending),
	}
	remove := []string{"#quiet"}
	if f.HeldMs != nil {
		set += ", #held = :held"
		names["#held"], values[":held"] = index.HeldMs, n(*f.HeldMs)
	}
	if f.Cap != "" {
		set += ", #cap = :cap"
		names["#cap"], values[":cap"] = index.Cap, s(f.Cap)
	}
	if f.LatenessMs != nil {
		set += ", #late = :late"
		values[":late"] = n(*f.LatenessMs)
	} else {
		remove = append(remove, "#late")
	}
	if f.Reason != "" {
		set += ", #reason = :reason"
		values[":reason"] = s(f.Reason)
	} else {
		remove = append(remove, "#reason")
	}
	update := set
	for i, r := range remove {
		if i == 0 {
			update += " REMOVE " + r
		} else {
			update += ", " + r
		}
	}
	_, err := sc.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(sc.Table),
		Key:                       map[string]types.AttributeValue{index.Key: s(key)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#rev = :rev AND #st = :sending"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return nil // recorded already, or the row is not this push's (no row: a direct push)
	}
	if err != nil {
		return fmt.Errorf("record outcome in schedule row: %w", err)
	}
	return nil
}

// Defer records on the row that quiet hours hold the push until until: sending (or deferred
// already) → deferred, if the row still holds this revision. A row that is not this
// revision's, or not sending, is left as it is.
func (sc *Schedules) Defer(ctx context.Context, key string, rev int, until, now time.Time) error {
	_, err := sc.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(sc.Table),
		Key:                 map[string]types.AttributeValue{index.Key: s(key)},
		UpdateExpression:    aws.String("SET #st = :deferred, #quiet = :until, #upd = :now"),
		ConditionExpression: aws.String("#rev = :rev AND (#st = :sending OR #st = :deferred)"),
		ExpressionAttributeNames: map[string]string{"#st": index.State, "#quiet": index.QuietUntil,
			"#upd": index.UpdatedAt, "#rev": index.Revision},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":deferred": s(index.Deferred), ":sending": s(index.Sending), ":until": s(index.FormatTime(until)),
			":now": s(index.FormatTime(now)), ":rev": n(int64(rev)),
		},
	})
	if isConditionFailed(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record the hold in schedule row: %w", err)
	}
	return nil
}
