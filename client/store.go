package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
	"github.com/delayed-push/delayed-push/schedule"
)

// doneRetention is how long a row lives after its push is done or cancelled (its TTL),
// counted from the due time: a stopped execution can no longer fire by then.
const doneRetention = 30 * 24 * time.Hour

// record is a row of the schedules table.
type record struct {
	Key, State, Hash, Input, ExecutionName, Recipient, Engine string
	Path                                                      string // economy: pathQueue or the schedule's name ("": an older row)
	QuietUntil                                                time.Time
	Revision                                                  int
	DueAt, CreatedAt, UpdatedAt                               time.Time
	Push                                                      push.Push
	Outcome                                                   *Outcome
	Local                                                     local
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{index.Key: s(key)}
}

func recipientOf(p push.Push) string {
	if p.UserID != "" {
		return p.UserID
	}
	return p.EndpointARN
}

// putRow writes the row of a new key. When the key exists it returns the row found.
func (c *Client) putRow(ctx context.Context, in prepared) (bool, *record, error) {
	now := index.FormatTime(c.now())
	item := map[string]types.AttributeValue{
		index.Key: s(in.key), index.Revision: n(int64(in.revision)), index.State: s(index.Scheduled),
		index.Hash: s(in.hash), index.Input: s(in.input), index.Push: s(string(push.Encode(in.push))),
		index.DueAt: s(index.FormatTime(in.dueAt)), index.Recipient: s(recipientOf(in.push)),
		index.PendingRecipient: s(recipientOf(in.push)), index.CreatedAt: s(now), index.UpdatedAt: s(now),
		index.Engine: s(in.engine),
	}
	for name, v := range in.local.attributes() {
		item[name] = s(v)
	}
	if hasExecution(in) {
		item[index.ExecutionName] = s(ExecutionName(in.key, in.revision))
	}
	if in.path != "" {
		item[index.EconomyPath] = s(in.path)
	}
	_, err := c.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.res.SchedulesTable), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": index.Key},
	})
	if isConditionFailed(err) {
		row, gerr := c.getRow(ctx, in.key)
		if errors.Is(gerr, ErrNotFound) {
			// Written and deleted between the two calls: let the caller retry.
			return false, nil, fmt.Errorf("key %s: %w: it changed while it was written, try again", jsonfield.Quote(in.key), ErrConflict)
		}
		return false, row, gerr
	}
	if err != nil {
		return false, nil, fmt.Errorf("key %s: write the schedules table: %w", jsonfield.Quote(in.key), err)
	}
	return true, nil, nil
}

// bumpRow makes in (revision row.Revision+1) the key's current revision, if the row is still
// what was read.
func (c *Client) bumpRow(ctx context.Context, row *record, in prepared) error {
	update, names, vals := revisionUpdate(in, c.now())
	vals[":old"] = n(int64(row.Revision))
	_, err := c.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.res.SchedulesTable), Key: keyOf(in.key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#rev = :old AND #state = :scheduled"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		now, gerr := c.getRow(ctx, in.key)
		if gerr != nil {
			return gerr
		}
		if cerr := changeable(now); cerr != nil {
			return cerr
		}
		return fmt.Errorf("key %s: %w: it was changed by another call at the same time (now revision %d)", jsonfield.Quote(in.key), ErrConflict, now.Revision)
	}
	if err != nil {
		return fmt.Errorf("key %s: write the schedules table: %w", jsonfield.Quote(in.key), err)
	}
	return nil
}

// unbumpRow puts the row back as it was read (row), if it is still bumpRow's write of in and
// scheduled: in could not be started, and row's revision still runs. It fails when the row
// moved on meanwhile (a Cancel, the sender, another Reschedule), or could not be written.
func (c *Client) unbumpRow(ctx context.Context, row *record, in prepared) error {
	old := prepared{key: row.Key, revision: row.Revision, engine: row.Engine, push: row.Push, input: row.Input, dueAt: row.DueAt,
		hash: row.Hash, local: row.Local, path: row.Path, now: row.ExecutionName == "" && row.Engine != EngineEconomy}
	update, names, vals := revisionUpdate(old, row.UpdatedAt)
	vals[":bumped"], vals[":bumpedHash"] = n(int64(in.revision)), s(in.hash)
	_, err := c.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.res.SchedulesTable), Key: keyOf(in.key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#rev = :bumped AND #hash = :bumpedHash AND #state = :scheduled"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		return errors.New("it was changed by another call meanwhile")
	}
	return err
}

// revisionUpdate is the update that makes in the row's revision, written at updated; its
// condition is the caller's (#state and :scheduled are defined).
func revisionUpdate(in prepared, updated time.Time) (string, map[string]string, map[string]types.AttributeValue) {
	rcpt := recipientOf(in.push)
	vals := map[string]types.AttributeValue{
		":new": n(int64(in.revision)), ":scheduled": s(index.Scheduled),
		":hash": s(in.hash), ":input": s(in.input), ":push": s(string(push.Encode(in.push))),
		":due": s(index.FormatTime(in.dueAt)), ":rcpt": s(rcpt), ":now": s(index.FormatTime(updated)), ":engine": s(in.engine),
	}
	set := "#rev = :new, #hash = :hash, #input = :input, #push = :push, #due = :due, #rcpt = :rcpt, #pending = :rcpt, #upd = :now, #engine = :engine"
	names := map[string]string{"#rev": index.Revision, "#state": index.State, "#hash": index.Hash, "#input": index.Input,
		"#push": index.Push, "#due": index.DueAt, "#rcpt": index.Recipient, "#pending": index.PendingRecipient, "#upd": index.UpdatedAt,
		"#exec": index.ExecutionName, "#engine": index.Engine, "#path": index.EconomyPath}
	// A local time's attributes are the new revision's, or removed.
	var remove []string
	for i, name := range localAttributes {
		ref := fmt.Sprintf("#l%d", i)
		names[ref] = name
		if v := in.local.attributes()[name]; v != "" {
			set += fmt.Sprintf(", %s = :l%d", ref, i)
			vals[fmt.Sprintf(":l%d", i)] = s(v)
		} else {
			remove = append(remove, ref)
		}
	}
	if hasExecution(in) {
		set += ", #exec = :exec"
		vals[":exec"] = s(ExecutionName(in.key, in.revision))
	} else {
		remove = append(remove, "#exec")
	}
	if in.path != "" {
		set += ", #path = :path"
		vals[":path"] = s(in.path)
	} else {
		remove = append(remove, "#path")
	}
	update := "SET " + set
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	return update, names, vals
}

// hasExecution: in is started as a Step Functions execution (not sent now, not economy).
func hasExecution(in prepared) bool {
	return !in.now && in.engine != EngineEconomy
}

// cancelRow marks a scheduled row cancelled; a cancelled one is returned as it is.
func (c *Client) cancelRow(ctx context.Context, key string) (*record, error) {
	now := c.now()
	out, err := c.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.res.SchedulesTable), Key: keyOf(key),
		UpdateExpression: aws.String("SET #state = :cancelled, #upd = :now, #exp = :exp REMOVE #pending"),
		// A push held by quiet hours is still pending: the sender drops it when it comes back.
		ConditionExpression: aws.String("#state = :scheduled OR #state = :deferred"),
		ExpressionAttributeNames: map[string]string{"#state": index.State, "#upd": index.UpdatedAt,
			"#exp": index.ExpiresAt, "#pending": index.PendingRecipient},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":cancelled": s(index.Cancelled), ":scheduled": s(index.Scheduled), ":deferred": s(index.Deferred), ":now": s(index.FormatTime(now)),
			// Kept past the latest time its execution could have fired.
			":exp": n(now.Add(doneRetention + schedule.MaxAhead).Unix()),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		row, gerr := c.getRow(ctx, key)
		if gerr != nil {
			return nil, gerr
		}
		if row.State == index.Cancelled {
			return row, nil
		}
		return nil, changeable(row)
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: write the schedules table: %w", jsonfield.Quote(key), err)
	}
	return decodeRecord(out.Attributes)
}

// deleteRow removes the row of a call that scheduled nothing, if it is still that call's.
func (c *Client) deleteRow(ctx context.Context, in prepared) {
	_, _ = c.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(c.res.SchedulesTable), Key: keyOf(in.key),
		ConditionExpression:      aws.String("#hash = :hash AND #rev = :rev AND #state = :scheduled"),
		ExpressionAttributeNames: map[string]string{"#hash": index.Hash, "#rev": index.Revision, "#state": index.State},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":hash": s(in.hash), ":rev": n(int64(in.revision)), ":scheduled": s(index.Scheduled),
		},
	})
}

func (c *Client) getRow(ctx context.Context, key string) (*record, error) {
	out, err := c.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(c.res.SchedulesTable), Key: keyOf(key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("key %s: read the schedules table: %w", jsonfield.Quote(key), err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("key %s: %w", jsonfield.Quote(key), ErrNotFound)
	}
	return decodeRecord(out.Item)
}

func decodeRecord(item map[string]types.AttributeValue) (*record, error) {
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	num := func(name string) (int64, bool) {
		if v, ok := item[name].(*types.AttributeValueMemberN); ok {
			i, err := strconv.ParseInt(v.Value, 10, 64)
			return i, err == nil
		}
		return 0, false
	}
	tm := func(name string) time.Time {
		t, _ := time.Parse(time.RFC3339Nano, str(name))
		return t
	}
	r := &record{Key: str(index.Key), State: str(index.State), Hash: str(index.Hash), Input: str(index.Input),
		ExecutionName: str(index.ExecutionName), Recipient: str(index.Recipient), Engine: str(index.Engine), Path: str(index.EconomyPath),
		DueAt: tm(index.DueAt), CreatedAt: tm(index.CreatedAt), UpdatedAt: tm(index.UpdatedAt),
		QuietUntil: tm(index.QuietUntil),
		Local: local{Time: str(index.LocalTime), Zone: str(index.TimeZone), Source: str(index.TimeZoneSource),
			Resolution: recipient.Resolution(str(index.Resolution))}}
	if r.Engine == "" {
		r.Engine = EngineStepFunctions
	}
	rev, _ := num(index.Revision)
	r.Revision = int(rev)
	if raw := str(index.Push); raw != "" {
		p, err := push.Decode([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("key %s: the schedules table holds an unreadable push: %w", jsonfield.Quote(r.Key), err)
		}
		r.Push = p
	}
	if res := str(index.Result); res != "" {
		o := &Outcome{Result: res, FinishedAt: tm(index.FinishedAt), Reason: str(index.Reason)}
		if v, ok := num(index.LatenessMs); ok {
			o.LatenessMs = &v
		}
		e, _ := num(index.Endpoints)
		sent, _ := num(index.SentCount)
		failed, _ := num(index.FailedCount)
		o.Endpoints, o.Sent, o.Failed = int(e), int(sent), int(failed)
		o.Cap = str(index.Cap)
		if v, ok := num(index.HeldMs); ok {
			o.HeldMs = &v
		}
		r.Outcome = o
	}
	return r, nil
}

func (c *Client) status(r *record) Status {
	st := Status{Key: r.Key, State: r.State, Revision: r.Revision, Engine: r.Engine, DueAt: r.DueAt, Push: r.Push,
		ExecutionName: r.ExecutionName, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Outcome: r.Outcome,
		LocalTime: r.Local.Time, TimeZone: r.Local.Zone, TimeZoneSource: r.Local.Source, Resolution: string(r.Local.Resolution),
		QuietUntil: r.QuietUntil}
	if r.State == index.Scheduled {
		st.TimeLeft = max(r.DueAt.Sub(c.now()), 0)
	}
	return st
}

// maxLimit is the largest page: DynamoDB reads at most 1 MB per call anyway.
const maxLimit = 1000

func (c *Client) list(ctx context.Context, o ListOptions) (Page, error) {
	limit := o.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > maxLimit:
		return Page{}, &push.InvalidError{Field: "limit", Reason: fmt.Sprintf("must be 1..%d, got %d", maxLimit, limit)}
	}
	var start map[string]types.AttributeValue
	if o.PageToken != "" {
		var err error
		if start, err = decodeToken(o.PageToken); err != nil {
			return Page{}, err
		}
	}
	var items []map[string]types.AttributeValue
	var last map[string]types.AttributeValue
	if o.UserID != "" {
		out, err := c.ddb.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(c.res.SchedulesTable), IndexName: aws.String(index.PendingIndex),
			KeyConditionExpression:    aws.String("#p = :u"),
			ExpressionAttributeNames:  map[string]string{"#p": index.PendingRecipient},
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(o.UserID)},
			Limit:                     aws.Int32(int32(limit)), ExclusiveStartKey: start,
		})
		if err != nil {
			return Page{}, fmt.Errorf("list pending pushes of %s: %w", jsonfield.Quote(o.UserID), err)
		}
		items, last = out.Items, out.LastEvaluatedKey
	} else {
		out, err := c.ddb.Scan(ctx, &dynamodb.ScanInput{
			TableName: aws.String(c.res.SchedulesTable), IndexName: aws.String(index.PendingIndex),
			Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start,
		})
		if err != nil {
			return Page{}, fmt.Errorf("list pending pushes: %w", err)
		}
		items, last = out.Items, out.LastEvaluatedKey
	}
	rows := make([]*record, 0, len(items))
	for _, item := range items {
		r, err := decodeRecord(item)
		if err != nil {
			return Page{}, err
		}
		rows = append(rows, r)
	}
	page := Page{Pushes: c.observeAll(ctx, rows)}
	if len(last) > 0 {
		page.NextPageToken = encodeToken(last)
	}
	return page, nil
}

// A page token is the index's LastEvaluatedKey (string attributes only), as base64url JSON.
func encodeToken(k map[string]types.AttributeValue) string {
	m := map[string]string{}
	for name, v := range k {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			m[name] = sv.Value
		}
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(tok string) (map[string]types.AttributeValue, error) {
	bad := &push.InvalidError{Field: "pageToken", Reason: "is not a token List returned"}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, bad
	}
	var m map[string]string
	if json.Unmarshal(b, &m) != nil || m[index.Key] == "" {
		return nil, bad
	}
	out := map[string]types.AttributeValue{}
	for name, v := range m {
		switch name {
		case index.Key, index.PendingRecipient, index.DueAt:
			out[name] = s(v)
		default:
			return nil, bad
		}
	}
	return out, nil
}

// fromExecution reports a push scheduled by StartExecution directly, from its execution.
func (c *Client) fromExecution(ctx context.Context, key string) (Status, error) {
	name := ExecutionName(key, 1)
	out, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(c.executionArn(name))})
	if isCode(err, "ExecutionDoesNotExist") {
		return Status{}, fmt.Errorf("key %s: %w", jsonfield.Quote(key), ErrNotFound)
	}
	if err != nil {
		return Status{}, fmt.Errorf("key %s: describe execution %s: %w", jsonfield.Quote(key), name, err)
	}
	st := Status{Key: key, Engine: EngineStepFunctions, ExecutionName: name, Revision: 1, ExecutionStatus: string(out.Status)}
	if out.StartDate != nil {
		st.CreatedAt = *out.StartDate
	}
	if out.StopDate != nil {
		st.UpdatedAt = *out.StopDate
	}
	if sch, err := schedule.Parse([]byte(aws.ToString(out.Input)), st.CreatedAt); err == nil {
		st.Push, st.DueAt = sch.Push, sch.DueAt(st.CreatedAt)
	}
	switch out.Status {
	case sfntypes.ExecutionStatusRunning:
		st.State = index.Scheduled
		st.TimeLeft = max(st.DueAt.Sub(c.now()), 0)
	case sfntypes.ExecutionStatusSucceeded:
		// On the push queue: the delivery log has the outcome.
		st.State = index.Sending
	case sfntypes.ExecutionStatusAborted:
		st.State = index.Cancelled
	default:
		st.State = index.Failed
		st.Outcome = &Outcome{Result: "failed", Reason: aws.ToString(out.Error) + ": " + aws.ToString(out.Cause)}
	}
	return st, nil
}

// cancelExecution stops the execution of a push scheduled by StartExecution directly.
func (c *Client) cancelExecution(ctx context.Context, key string) (Status, error) {
	st, err := c.fromExecution(ctx, key)
	if err != nil {
		return Status{}, err
	}
	switch st.State {
	case index.Cancelled:
		return st, nil
	case index.Scheduled:
		_, err := c.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(c.executionArn(st.ExecutionName)),
			Error: aws.String("DelayedPush.cancelled"), Cause: aws.String("the push was cancelled through the client")})
		if err != nil {
			return Status{}, fmt.Errorf("key %s: stop execution %s: %w", jsonfield.Quote(key), st.ExecutionName, err)
		}
		st.State, st.TimeLeft = index.Cancelled, 0
		return st, nil
	}
	return Status{}, fmt.Errorf("key %s: %w: its execution has ended (%s)", jsonfield.Quote(key), ErrTooLate, st.State)
}

// executionArn: arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME from the state
// machine's ARN (…:stateMachine:MACHINE).
func executionArn(stateMachineArn, name string) string {
	return strings.Replace(stateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return err != nil && errors.As(err, &ae) && ae.ErrorCode() == code
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf) || isCode(err, "ConditionalCheckFailedException")
}

// retryable: the call may have failed on the way (network, throttling, a server error), so a
// retry may find it done.
func retryable(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return true
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return true
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
		return true
	}
	return false
}
