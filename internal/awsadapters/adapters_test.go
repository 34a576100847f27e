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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/delivery"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const ep = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/1"

type fakeQuery struct {
	pages []*dynamodb.QueryOutput
	ins   []dynamodb.QueryInput
	err   error
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
		{Items: []map[string]types.AttributeValue{{"endpointArn": sAttr("a")}, {"endpointArn": sAttr("b")}}, LastEvaluatedKey: lastKey},
		{Items: []map[string]types.AttributeValue{{"endpointArn": sAttr("c")}}},
	}}
	r := &awsadapters.Registry{Client: q, Table: "devices"}
	got, err := r.Endpoints(context.Background(), "u-42")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, got)
	require.Len(t, q.ins, 2)
	in := q.ins[0]
	assert.Equal(t, "devices", aws.ToString(in.TableName))
	assert.Equal(t, "#u = :u", aws.ToString(in.KeyConditionExpression))
	assert.Equal(t, "#e", aws.ToString(in.ProjectionExpression), "only endpointArn is read")
	assert.Equal(t, map[string]string{"#u": "userId", "#e": "endpointArn"}, in.ExpressionAttributeNames)
	assert.Equal(t, sAttr("u-42"), in.ExpressionAttributeValues[":u"])
	assert.Nil(t, in.ExclusiveStartKey)
	assert.Equal(t, lastKey, q.ins[1].ExclusiveStartKey)
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
	getItem   map[string]types.AttributeValue
}

func (f *fakeItems) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, *in)
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

func (f *fakeItems) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, *in)
	return &dynamodb.GetItemOutput{Item: f.getItem}, nil
}

var key = delivery.Key{PushID: "p1", EndpointARN: ep}

func newLog(f *fakeItems) *awsadapters.DeliveryLog {
	return &awsadapters.DeliveryLog{Client: f, Table: "deliveries", Retention: 30 * 24 * time.Hour}
}

func TestClaimRequest(t *testing.T) {
	f := &fakeItems{}
	c, err := newLog(f).Claim(context.Background(), key, "u-42", now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, delivery.Claimed, c.Outcome)
	assert.Equal(t, now.Add(time.Minute).UnixMilli(), c.Lease.UntilMs)

	require.Len(t, f.updates, 1)
	in := f.updates[0]
	assert.Equal(t, "deliveries", aws.ToString(in.TableName))
	assert.Equal(t, map[string]types.AttributeValue{"pushId": sAttr("p1"), "endpointArn": sAttr(ep)}, in.Key)
	assert.Equal(t, "attribute_not_exists(pushId) OR #s = :retry OR (#s = :sending AND leaseUntil < :now)", aws.ToString(in.ConditionExpression))
	assert.Equal(t, "SET #s = :sending, leaseUntil = :lease, updatedAt = :t, expiresAt = :exp, userId = :u ADD attempts :one", aws.ToString(in.UpdateExpression))
	assert.Equal(t, map[string]string{"#s": "status"}, in.ExpressionAttributeNames)
	assert.Equal(t, map[string]types.AttributeValue{
		":sending": sAttr("sending"),
		":retry":   sAttr("retry"),
		":now":     nAttr("1796115600000"),
		":lease":   nAttr("1796115660000"),
		":t":       sAttr("2026-12-01T09:00:00Z"),
		":exp":     nAttr("1798707600"), // now + 30 days, unix seconds
		":one":     nAttr("1"),
		":u":       sAttr("u-42"),
	}, in.ExpressionAttributeValues)
	assert.Equal(t, types.ReturnValuesOnConditionCheckFailureAllOld, in.ReturnValuesOnConditionCheckFailure)
}

func TestClaimWithoutUserOmitsUserID(t *testing.T) {
	f := &fakeItems{}
	_, err := newLog(f).Claim(context.Background(), key, "", now, time.Minute)
	require.NoError(t, err)
	assert.NotContains(t, aws.ToString(f.updates[0].UpdateExpression), "userId")
	assert.NotContains(t, f.updates[0].ExpressionAttributeValues, ":u")
}

func TestClaimConditionFailure(t *testing.T) {
	cases := []struct {
		name    string
		item    map[string]types.AttributeValue // in the exception
		getItem map[string]types.AttributeValue // from the GetItem fallback
		want    delivery.ClaimOutcome
		gets    int
	}{
		{"sent", map[string]types.AttributeValue{"status": sAttr("sent")}, nil, delivery.AlreadyDone, 0},
		{"failed", map[string]types.AttributeValue{"status": sAttr("failed")}, nil, delivery.AlreadyDone, 0},
		{"sending, live lease", map[string]types.AttributeValue{"status": sAttr("sending")}, nil, delivery.Busy, 0},
		{"no item in exception: read it", nil, map[string]types.AttributeValue{"status": sAttr("sent")}, delivery.AlreadyDone, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeItems{updateErr: &types.ConditionalCheckFailedException{Item: tc.item}, getItem: tc.getItem}
			c, err := newLog(f).Claim(context.Background(), key, "u", now, time.Minute)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Outcome)
			require.Len(t, f.gets, tc.gets)
			if tc.gets > 0 {
				assert.True(t, aws.ToBool(f.gets[0].ConsistentRead))
			}
		})
	}
}

func TestClaimOtherError(t *testing.T) {
	f := &fakeItems{updateErr: errors.New("throttled")}
	_, err := newLog(f).Claim(context.Background(), key, "u", now, time.Minute)
	assert.ErrorContains(t, err, "throttled")
}

func TestMarks(t *testing.T) {
	lease := delivery.Lease{UntilMs: 1796115660000}
	cases := []struct {
		name   string
		call   func(l *awsadapters.DeliveryLog) error
		update string
		values map[string]types.AttributeValue
	}{
		{"sent", func(l *awsadapters.DeliveryLog) error {
			return l.MarkSent(context.Background(), key, lease, "sns-1", now)
		}, "SET #s = :st, snsMessageId = :m, updatedAt = :t, expiresAt = :exp REMOVE #err",
			map[string]types.AttributeValue{":st": sAttr("sent"), ":m": sAttr("sns-1")}},
		{"failed", func(l *awsadapters.DeliveryLog) error {
			return l.MarkFailed(context.Background(), key, lease, "EndpointDisabled: x", now)
		}, "SET #s = :st, #err = :e, updatedAt = :t, expiresAt = :exp",
			map[string]types.AttributeValue{":st": sAttr("failed"), ":e": sAttr("EndpointDisabled: x")}},
		{"retry", func(l *awsadapters.DeliveryLog) error {
			return l.MarkRetry(context.Background(), key, lease, "Throttled: x", now)
		}, "SET #s = :st, #err = :e, updatedAt = :t, expiresAt = :exp",
			map[string]types.AttributeValue{":st": sAttr("retry"), ":e": sAttr("Throttled: x")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeItems{}
			require.NoError(t, tc.call(newLog(f)))
			in := f.updates[0]
			assert.Equal(t, tc.update, aws.ToString(in.UpdateExpression))
			assert.Equal(t, "#s = :sending AND leaseUntil = :lease", aws.ToString(in.ConditionExpression), "only while we hold the claim")
			assert.Equal(t, map[string]string{"#s": "status", "#err": "error"}, in.ExpressionAttributeNames)
			want := map[string]types.AttributeValue{
				":sending": sAttr("sending"), ":lease": nAttr("1796115660000"),
				":t": sAttr("2026-12-01T09:00:00Z"), ":exp": nAttr("1798707600"),
			}
			for k, v := range tc.values {
				want[k] = v
			}
			assert.Equal(t, want, in.ExpressionAttributeValues)

			f = &fakeItems{updateErr: &types.ConditionalCheckFailedException{}}
			assert.ErrorIs(t, tc.call(newLog(f)), delivery.ErrLostClaim)
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
	assert.Equal(t, delivery.Permanent, delivery.Classify(err), "SNS errors reach the classifier intact")

	f = &fakeSNS{out: &sns.PublishOutput{}}
	_, err = (&awsadapters.Publisher{Client: f}).Publish(context.Background(), ep, "{}")
	assert.Error(t, err, "no message id is not a confirmed publish")
}
