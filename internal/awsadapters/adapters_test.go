package awsadapters_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/delivery"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const ep = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/1"

type fakeQuery struct {
	pages   []*dynamodb.QueryOutput
	ins     []dynamodb.QueryInput
	updates []dynamodb.UpdateItemInput
	err     error
	updErr  error
}

func (f *fakeQuery) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, *in)
	return &dynamodb.UpdateItemOutput{}, f.updErr
}

func (f *fakeQuery) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.ins = append(f.ins, *in)
	if f.err != nil {
		return nil, f.err
	}
	out := f.pages[0]
	f.pages = f.pages[1:]
	return out, nil
}

func sAttr(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nAttr(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestRegistryQueriesAllPages(t *testing.T) {
	lastKey := map[string]types.AttributeValue{"userId": sAttr("u-42"), "endpointArn": sAttr("b")}
	q := &fakeQuery{pages: []*dynamodb.QueryOutput{
		{Items: []map[string]types.AttributeValue{{"endpointArn": sAttr("a")}, {"endpointArn": sAttr("b"),
			"enabled": &types.AttributeValueMemberBOOL{Value: false}, "disabledReason": sAttr("EndpointDisabled: gone")}}, LastEvaluatedKey: lastKey},
		{Items: []map[string]types.AttributeValue{{"endpointArn": sAttr("c"), "enabled": &types.AttributeValueMemberBOOL{Value: true}}}},
	}}
	r := &awsadapters.Registry{Client: q, Table: "devices"}
	got, err := r.Endpoints(context.Background(), "u-42")
	require.NoError(t, err)
	assert.Equal(t, []delivery.Endpoint{{ARN: "a"}, {ARN: "b", Disabled: "EndpointDisabled: gone"}, {ARN: "c"}}, got,
		"a row without enabled (written before the registry) counts as enabled")
	require.Len(t, q.ins, 2)
	in := q.ins[0]
	assert.Equal(t, "devices", aws.ToString(in.TableName))
	assert.Equal(t, "#u = :u", aws.ToString(in.KeyConditionExpression))
	assert.Equal(t, "#e, enabled, disabledReason", aws.ToString(in.ProjectionExpression))
	assert.Equal(t, map[string]string{"#u": "userId", "#e": "endpointArn"}, in.ExpressionAttributeNames)
	assert.Equal(t, sAttr("u-42"), in.ExpressionAttributeValues[":u"])
	assert.Nil(t, in.ExclusiveStartKey)
	assert.Equal(t, lastKey, q.ins[1].ExclusiveStartKey)
}

func TestRegistryDisablesADeviceWithItsReason(t *testing.T) {
	q := &fakeQuery{}
	r := &awsadapters.Registry{Client: q, Table: "devices"}
	require.NoError(t, r.Disable(context.Background(), "u-42", ep, "EndpointDisabled: Endpoint is disabled", now))
	require.Len(t, q.updates, 1)
	in := q.updates[0]
	assert.Equal(t, map[string]types.AttributeValue{"userId": sAttr("u-42"), "endpointArn": sAttr(ep)}, in.Key)
	assert.Equal(t, "attribute_exists(userId)", aws.ToString(in.ConditionExpression), "never creates a row")
	assert.Equal(t, sAttr("EndpointDisabled: Endpoint is disabled"), in.ExpressionAttributeValues[":r"])
	assert.Equal(t, &types.AttributeValueMemberBOOL{Value: false}, in.ExpressionAttributeValues[":f"])

	q.updErr = &types.ConditionalCheckFailedException{}
	assert.NoError(t, r.Disable(context.Background(), "u-42", ep, "x", now), "no row (unregistered meanwhile): nothing to do")
}

func TestRegistryError(t *testing.T) {
	r := &awsadapters.Registry{Client: &fakeQuery{err: errors.New("boom")}, Table: "devices"}
	_, err := r.Endpoints(context.Background(), "u")
	assert.ErrorContains(t, err, "boom")
}

type fakeItems struct {
	updates   []dynamodb.UpdateItemInput
	gets      []dynamodb.GetItemInput
	updateErr error
	old       map[string]types.AttributeValue // ALL_OLD of a successful update
	getItem   map[string]types.AttributeValue
}

func (f *fakeItems) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, *in)
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	return &dynamodb.UpdateItemOutput{Attributes: f.old}, nil
}

func (f *fakeItems) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, *in)
	return &dynamodb.GetItemOutput{Item: f.getItem}, nil
}

var key = delivery.Key{PushID: "p1", EndpointARN: ep}

var lease = delivery.Lease{Token: "tok-1", UntilMs: 1796115660000}

func newLog(f *fakeItems) *awsadapters.DeliveryLog {
	return &awsadapters.DeliveryLog{Client: f, Table: "deliveries", Retention: 30 * 24 * time.Hour}
}

func claimReq(user string) delivery.ClaimRequest {
	return delivery.ClaimRequest{UserID: user, DueAt: now.Add(-time.Second), Now: now, Lease: lease}
}

func TestClaimRequest(t *testing.T) {
	f := &fakeItems{}
	c, err := newLog(f).Claim(context.Background(), key, claimReq("u-42"))
	require.NoError(t, err)
	assert.Equal(t, delivery.Claimed, c.Outcome)

	require.Len(t, f.updates, 1)
	in := f.updates[0]
	assert.Equal(t, "deliveries", aws.ToString(in.TableName))
	assert.Equal(t, map[string]types.AttributeValue{"pushId": sAttr("p1"), "endpointArn": sAttr(ep)}, in.Key)
	assert.Equal(t, "attribute_not_exists(pushId) OR #s = :retry OR (#s = :sending AND leaseUntil < :now)", aws.ToString(in.ConditionExpression))
	assert.Equal(t, "SET #s = :sending, leaseUntil = :lease, claimToken = :tok, updatedAt = :t, expiresAt = :exp, userId = :u, dueAt = :due ADD attempts :one", aws.ToString(in.UpdateExpression))
	assert.Equal(t, map[string]string{"#s": "status"}, in.ExpressionAttributeNames)
	assert.Equal(t, map[string]types.AttributeValue{
		":sending": sAttr("sending"),
		":retry":   sAttr("retry"),
		":now":     nAttr("1796115600000"),
		":lease":   nAttr("1796115660000"),
		":tok":     sAttr("tok-1"),
		":t":       sAttr("2026-12-01T09:00:00Z"),
		":exp":     nAttr("1798707600"), // now + 30 days, unix seconds
		":one":     nAttr("1"),
		":u":       sAttr("u-42"),
		":due":     sAttr("2026-12-01T08:59:59Z"),
	}, in.ExpressionAttributeValues)
	assert.Equal(t, types.ReturnValueAllOld, in.ReturnValues, "the old status tells a takeover from a fresh claim")
	assert.Equal(t, types.ReturnValuesOnConditionCheckFailureAllOld, in.ReturnValuesOnConditionCheckFailure)
}

// A claim for a publish counts it in the same write, before the publish: an attempt that
// dies after SNS took it still leaves it counted.
func TestClaimForAPublishCountsIt(t *testing.T) {
	f := &fakeItems{}
	req := claimReq("u-42")
	req.Publish = true
	_, err := newLog(f).Claim(context.Background(), key, req)
	require.NoError(t, err)
	assert.Equal(t, "SET #s = :sending, leaseUntil = :lease, claimToken = :tok, updatedAt = :t, expiresAt = :exp, userId = :u, dueAt = :due ADD attempts :one, publishes :one",
		aws.ToString(f.updates[0].UpdateExpression))
	assert.Equal(t, nAttr("1"), f.updates[0].ExpressionAttributeValues[":one"])
}

// The engine that held the push is on its delivery records, for pushctl accuracy.
func TestClaimRecordsTheEngine(t *testing.T) {
	f := &fakeItems{}
	req := claimReq("u-42")
	req.Engine = "economy"
	_, err := newLog(f).Claim(context.Background(), key, req)
	require.NoError(t, err)
	in := f.updates[0]
	assert.Equal(t, "SET #s = :sending, leaseUntil = :lease, claimToken = :tok, updatedAt = :t, expiresAt = :exp, userId = :u, dueAt = :due, #eng = :eng ADD attempts :one",
		aws.ToString(in.UpdateExpression))
	assert.Equal(t, map[string]string{"#s": "status", "#eng": "engine"}, in.ExpressionAttributeNames)
	assert.Equal(t, sAttr("economy"), in.ExpressionAttributeValues[":eng"])
}

func TestClaimWithoutUserOrDueOmitsThem(t *testing.T) {
	f := &fakeItems{}
	_, err := newLog(f).Claim(context.Background(), key, delivery.ClaimRequest{Now: now, Lease: lease})
	require.NoError(t, err)
	assert.NotContains(t, aws.ToString(f.updates[0].UpdateExpression), "userId")
	assert.NotContains(t, aws.ToString(f.updates[0].UpdateExpression), "dueAt")
	assert.NotContains(t, f.updates[0].ExpressionAttributeValues, ":u")
}

func TestClaimTakingOverAnAbandonedAttemptIsResumed(t *testing.T) {
	for old, want := range map[string]delivery.ClaimOutcome{
		"":        delivery.Claimed, // new record
		"retry":   delivery.Claimed, // the last attempt recorded that nothing went out
		"sending": delivery.Resumed, // the last attempt died: it may have published
	} {
		f := &fakeItems{}
		if old != "" {
			f.old = map[string]types.AttributeValue{"status": sAttr(old)}
		}
		c, err := newLog(f).Claim(context.Background(), key, claimReq("u"))
		require.NoError(t, err)
		assert.Equal(t, want, c.Outcome, "old status %q", old)
	}
}

func TestClaimConditionFailure(t *testing.T) {
	cases := []struct {
		name    string
		item    map[string]types.AttributeValue // in the exception
		getItem map[string]types.AttributeValue // from the GetItem fallback
		want    delivery.Claim
		gets    int
	}{
		{"sent", map[string]types.AttributeValue{"status": sAttr("sent")}, nil,
			delivery.Claim{Outcome: delivery.AlreadyDone, Status: "sent"}, 0},
		{"failed", map[string]types.AttributeValue{"status": sAttr("failed")}, nil,
			delivery.Claim{Outcome: delivery.AlreadyDone, Status: "failed"}, 0},
		{"uncertain", map[string]types.AttributeValue{"status": sAttr("uncertain")}, nil,
			delivery.Claim{Outcome: delivery.AlreadyDone, Status: "uncertain"}, 0},
		{"sending, live lease", map[string]types.AttributeValue{"status": sAttr("sending"), "leaseUntil": nAttr("1796115605000"), "claimToken": sAttr("other")}, nil,
			delivery.Claim{Outcome: delivery.Busy, BusyUntil: time.UnixMilli(1796115605000)}, 0},
		{"our own earlier try succeeded", map[string]types.AttributeValue{"status": sAttr("sending"), "leaseUntil": nAttr("1796115660000"), "claimToken": sAttr("tok-1")}, nil,
			delivery.Claim{Outcome: delivery.Claimed}, 0},
		{"changed in between", map[string]types.AttributeValue{"status": sAttr("retry")}, nil,
			delivery.Claim{Outcome: delivery.Busy, BusyUntil: now.Add(time.Second)}, 0},
		{"no item in exception: read it", nil, map[string]types.AttributeValue{"status": sAttr("sent")},
			delivery.Claim{Outcome: delivery.AlreadyDone, Status: "sent"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeItems{updateErr: &types.ConditionalCheckFailedException{Item: tc.item}, getItem: tc.getItem}
			c, err := newLog(f).Claim(context.Background(), key, claimReq("u"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
			require.Len(t, f.gets, tc.gets)
			if tc.gets > 0 {
				assert.True(t, aws.ToBool(f.gets[0].ConsistentRead))
			}
		})
	}
}

func TestClaimOtherError(t *testing.T) {
	f := &fakeItems{updateErr: errors.New("throttled")}
	_, err := newLog(f).Claim(context.Background(), key, claimReq("u"))
	assert.ErrorContains(t, err, "throttled")
}

func TestMarks(t *testing.T) {
	late := int64(1234)
	cases := []struct {
		name   string
		mark   delivery.Mark
		update string
		values map[string]types.AttributeValue
	}{
		// The claim counted the publish: an outcome adds nothing.
		{"sent", delivery.Mark{Status: "sent", SNSMessageID: "sns-1", LatenessMs: &late, Now: now},
			"SET #s = :st, updatedAt = :t, expiresAt = :exp, snsMessageId = :m, sentAt = :t, latenessMs = :late REMOVE #err",
			map[string]types.AttributeValue{":st": sAttr("sent"), ":m": sAttr("sns-1"), ":late": nAttr("1234")}},
		{"failed", delivery.Mark{Status: "failed", Error: "EndpointDisabled: x", Now: now},
			"SET #s = :st, updatedAt = :t, expiresAt = :exp, #err = :e",
			map[string]types.AttributeValue{":st": sAttr("failed"), ":e": sAttr("EndpointDisabled: x")}},
		// One more publish of the attempt, counted before it is made.
		{"sending", delivery.Mark{Status: "sending", Now: now, Publishes: 1},
			"SET #s = :st, updatedAt = :t, expiresAt = :exp ADD publishes :p REMOVE #err",
			map[string]types.AttributeValue{":st": sAttr("sending"), ":p": nAttr("1")}},
		{"retry", delivery.Mark{Status: "retry", Error: "Throttled: x", Now: now},
			"SET #s = :st, updatedAt = :t, expiresAt = :exp, #err = :e",
			map[string]types.AttributeValue{":st": sAttr("retry"), ":e": sAttr("Throttled: x")}},
		{"uncertain", delivery.Mark{Status: "uncertain", Error: "publish outcome unknown: timeout", Now: now},
			"SET #s = :st, updatedAt = :t, expiresAt = :exp, #err = :e",
			map[string]types.AttributeValue{":st": sAttr("uncertain"), ":e": sAttr("publish outcome unknown: timeout")}},
		// The claim counted a publish this attempt did not make (an at-most-once takeover):
		// taken back.
		{"uncertain without a publish", delivery.Mark{Status: "uncertain", Error: "an earlier attempt ended", Now: now, Publishes: -1},
			"SET #s = :st, updatedAt = :t, expiresAt = :exp, #err = :e ADD publishes :p",
			map[string]types.AttributeValue{":st": sAttr("uncertain"), ":e": sAttr("an earlier attempt ended"), ":p": nAttr("-1")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeItems{}
			require.NoError(t, newLog(f).Mark(context.Background(), key, lease, tc.mark))
			in := f.updates[0]
			assert.Equal(t, tc.update, aws.ToString(in.UpdateExpression))
			assert.Equal(t, "#s = :sending AND claimToken = :tok", aws.ToString(in.ConditionExpression), "only while we hold the claim")
			assert.Equal(t, map[string]string{"#s": "status", "#err": "error"}, in.ExpressionAttributeNames)
			want := map[string]types.AttributeValue{
				":sending": sAttr("sending"), ":tok": sAttr("tok-1"),
				":t": sAttr("2026-12-01T09:00:00Z"), ":exp": nAttr("1798707600"),
			}
			for k, v := range tc.values {
				want[k] = v
			}
			assert.Equal(t, want, in.ExpressionAttributeValues)

			// Taken over by another claim: lost.
			f = &fakeItems{updateErr: &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{
				"status": sAttr("sending"), "claimToken": sAttr("other")}}}
			assert.ErrorIs(t, newLog(f).Mark(context.Background(), key, lease, tc.mark), delivery.ErrLostClaim)
			// Our own earlier try of the same mark succeeded: done.
			f = &fakeItems{updateErr: &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{
				"status": sAttr(tc.mark.Status), "claimToken": sAttr("tok-1")}}}
			assert.NoError(t, newLog(f).Mark(context.Background(), key, lease, tc.mark))
		})
	}
}

type fakeSNS struct {
	in  *sns.PublishInput
	out *sns.PublishOutput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = in
	return f.out, f.err
}

func TestPublisher(t *testing.T) {
	f := &fakeSNS{out: &sns.PublishOutput{MessageId: aws.String("mid-1")}}
	id, err := (&awsadapters.Publisher{Client: f}).Publish(context.Background(), ep, `{"GCM":"{}"}`)
	require.NoError(t, err)
	assert.Equal(t, "mid-1", id)
	assert.Equal(t, ep, aws.ToString(f.in.TargetArn))
	assert.Equal(t, `{"GCM":"{}"}`, aws.ToString(f.in.Message))
	assert.Equal(t, "json", aws.ToString(f.in.MessageStructure))
	assert.Nil(t, f.in.TopicArn)

	f = &fakeSNS{err: &snstypes.EndpointDisabledException{}}
	_, err = (&awsadapters.Publisher{Client: f}).Publish(context.Background(), ep, "{}")
	assert.Equal(t, delivery.Permanent, delivery.ClassifyPublish(err), "SNS errors reach the classifier intact")

	f = &fakeSNS{out: &sns.PublishOutput{}}
	_, err = (&awsadapters.Publisher{Client: f}).Publish(context.Background(), ep, "{}")
	assert.Error(t, err, "no message id is not a confirmed publish")
}

type fakeSQS struct {
	ins []*sqs.SendMessageInput
	err error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.ins = append(f.ins, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, f.err
}

func TestQueuesParkAndRequeue(t *testing.T) {
	f := &fakeSQS{}
	q := &awsadapters.Queues{Client: f, PushQueueURL: "https://q/push", DeadLetterQueue: "https://q/dlq"}
	require.NoError(t, q.Park(context.Background(), delivery.Message{Body: "b", Attributes: map[string]delivery.Attribute{
		"parkReason": {DataType: "String", Value: "gave up"}, "receiveCount": {DataType: "Number", Value: "5"}}}))
	require.NoError(t, q.Requeue(context.Background(), delivery.Message{Body: "c", Delay: 3400 * time.Millisecond}))
	require.Len(t, f.ins, 2)
	assert.Equal(t, "https://q/dlq", aws.ToString(f.ins[0].QueueUrl))
	assert.Equal(t, "b", aws.ToString(f.ins[0].MessageBody))
	assert.Equal(t, map[string]sqstypes.MessageAttributeValue{
		"parkReason":   {DataType: aws.String("String"), StringValue: aws.String("gave up")},
		"receiveCount": {DataType: aws.String("Number"), StringValue: aws.String("5")},
	}, f.ins[0].MessageAttributes)
	assert.Equal(t, "https://q/push", aws.ToString(f.ins[1].QueueUrl))
	assert.EqualValues(t, 3, f.ins[1].DelaySeconds)
	assert.Nil(t, f.ins[1].MessageAttributes)

	f.err = errors.New("boom")
	assert.ErrorContains(t, q.Park(context.Background(), delivery.Message{}), "park on the dead-letter queue: boom")
}
