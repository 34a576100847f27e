package awsadapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
)

type fakeSNSEndpoints struct {
	createErr error
	getErr    error
	attrs     map[string]string
	sets      []sns.SetEndpointAttributesInput
}

func (f *fakeSNSEndpoints) CreatePlatformEndpoint(_ context.Context, in *sns.CreatePlatformEndpointInput, _ ...func(*sns.Options)) (*sns.CreatePlatformEndpointOutput, error) {
	if f.createErr != nil {
		return nil, f.createErr
	}
	return &sns.CreatePlatformEndpointOutput{EndpointArn: aws.String("arn:aws:sns:eu-west-1:1:endpoint/GCM/app/new")}, nil
}

func (f *fakeSNSEndpoints) GetEndpointAttributes(context.Context, *sns.GetEndpointAttributesInput, ...func(*sns.Options)) (*sns.GetEndpointAttributesOutput, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	return &sns.GetEndpointAttributesOutput{Attributes: f.attrs}, nil
}

func (f *fakeSNSEndpoints) SetEndpointAttributes(_ context.Context, in *sns.SetEndpointAttributesInput, _ ...func(*sns.Options)) (*sns.SetEndpointAttributesOutput, error) {
	f.sets = append(f.sets, *in)
	return &sns.SetEndpointAttributesOutput{}, nil
}

func (f *fakeSNSEndpoints) DeleteEndpoint(context.Context, *sns.DeleteEndpointInput, ...func(*sns.Options)) (*sns.DeleteEndpointOutput, error) {
	return &sns.DeleteEndpointOutput{}, nil
}

func TestSNSEndpointsFollowAWSsFlow(t *testing.T) {
	f := &fakeSNSEndpoints{}
	e := &awsadapters.SNSEndpoints{Client: f, ApplicationARN: "arn:aws:sns:eu-west-1:1:app/GCM/app"}
	ctx := context.Background()
	arn, err := e.Create(ctx, "tok")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sns:eu-west-1:1:endpoint/GCM/app/new", arn)

	// The token has an endpoint with other attributes: SNS names it in the error.
	f.createErr = &smithy.GenericAPIError{Code: "InvalidParameter", Message: "Invalid parameter: Token Reason: Endpoint " +
		"arn:aws:sns:eu-west-1:1:endpoint/GCM/app/old already exists with the same Token, but different attributes."}
	arn, err = e.Create(ctx, "tok")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sns:eu-west-1:1:endpoint/GCM/app/old", arn)
	f.createErr = &smithy.GenericAPIError{Code: "InvalidParameter", Message: "Invalid parameter: Token"}
	_, err = e.Create(ctx, "tok")
	assert.ErrorContains(t, err, "Invalid parameter: Token", "any other InvalidParameter is an error")

	f.attrs = map[string]string{"Token": "tok", "Enabled": "false"}
	a, found, err := e.Attributes(ctx, arn)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, devices.EndpointAttributes{Token: "tok", Enabled: false}, a)
	f.getErr = &snstypes.NotFoundException{Message: aws.String("Endpoint does not exist")}
	_, found, err = e.Attributes(ctx, arn)
	require.NoError(t, err)
	assert.False(t, found, "deleted")

	require.NoError(t, e.Enable(ctx, arn, "tok-2"))
	assert.Equal(t, map[string]string{"Token": "tok-2", "Enabled": "true"}, f.sets[0].Attributes)
}

type fakeTransact struct {
	in  []dynamodb.TransactWriteItemsInput
	err error
}

func (f *fakeTransact) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}
func (f *fakeTransact) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}
func (f *fakeTransact) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, nil
}
func (f *fakeTransact) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.in = append(f.in, *in)
	return &dynamodb.TransactWriteItemsOutput{}, f.err
}

func TestDeviceStoreSavesAMoveInOneTransaction(t *testing.T) {
	f := &fakeTransact{}
	st := &awsadapters.DeviceStore{Client: f, DevicesTable: "devices", OwnersTable: "owners"}
	d := devices.Device{ID: "new", UserID: "bob", Platform: "FCM", EndpointARN: "arn:new", Enabled: true, CreatedAt: now, LastSeenAt: now}
	require.NoError(t, st.Save(context.Background(), d, &devices.Owner{DeviceID: "old", UserID: "alice", EndpointARN: "arn:old"}))
	require.Len(t, f.in, 1)
	items := f.in[0].TransactItems
	require.Len(t, items, 4)
	assert.Equal(t, "owners", aws.ToString(items[0].Put.TableName))
	assert.Equal(t, "attribute_not_exists(deviceId) OR userId = :u", aws.ToString(items[0].Put.ConditionExpression))
	assert.Equal(t, sAttr("bob"), items[0].Put.ExpressionAttributeValues[":u"])
	assert.Equal(t, "devices", aws.ToString(items[1].Put.TableName))
	assert.Equal(t, &types.AttributeValueMemberBOOL{Value: true}, items[1].Put.Item["enabled"])
	assert.NotContains(t, items[1].Put.Item, "disabledReason", "a registered device is enabled, its old reason gone")
	assert.Equal(t, map[string]types.AttributeValue{"deviceId": sAttr("old"), "endpointArn": sAttr("arn:old"), "retiredAt": sAttr(now.Format(time.RFC3339Nano))},
		items[2].Put.Item, "alice's owner row becomes a tombstone, without a userId")
	assert.Equal(t, "attribute_not_exists(userId) OR userId = :u", aws.ToString(items[2].Put.ConditionExpression))
	assert.Equal(t, sAttr("alice"), items[2].Put.ExpressionAttributeValues[":u"], "only while alice still owns it")
	assert.Equal(t, map[string]types.AttributeValue{"userId": sAttr("alice"), "endpointArn": sAttr("arn:old")}, items[3].Delete.Key)

	f.err = &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}}}
	assert.ErrorIs(t, st.Save(context.Background(), d, nil), devices.ErrRace)
	f.err = &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("ThrottlingError")}}}
	err := st.Retire(context.Background(), devices.Owner{DeviceID: "x", UserID: "u", EndpointARN: "arn"})
	assert.NotErrorIs(t, err, devices.ErrRace)
	assert.ErrorContains(t, err, "transact owners and devices")
}
