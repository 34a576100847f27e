package apiapp

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/index"
)

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestOwnersReadDevicesAndRecordPushOwnersOnce(t *testing.T) {
	db := &ddbfake.DB{Tables: map[string]*ddbfake.Table{
		"devices": ddbfake.New("userId", "endpointArn"), "owners": ddbfake.New("deviceId"), "schedules": ddbfake.New(index.Key)}}
	ctx := context.Background()
	o := newOwners(db, "devices", "owners", "schedules")

	_, err := db.PutItem(ctx, putInput("owners", ddbfake.Item{"deviceId": str("d-bob"), "userId": str("bob"), "endpointArn": str("arn:e/d-bob")}))
	require.NoError(t, err)
	_, err = db.PutItem(ctx, putInput("owners", ddbfake.Item{"deviceId": str("d-gone"), "endpointArn": str("arn:e/d-gone"), "retiredAt": str("2026-01-01T00:00:00Z")}))
	require.NoError(t, err)
	user, found, err := o.DeviceOwner(ctx, "d-bob")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "bob", user)
	_, found, err = o.DeviceOwner(ctx, "d-gone")
	require.NoError(t, err)
	assert.False(t, found, "a retired device has no owner")
	_, found, err = o.DeviceOwner(ctx, "d-none")
	require.NoError(t, err)
	assert.False(t, found)

	// No row: nothing is created.
	require.NoError(t, o.RecordPushOwner(ctx, "k-none", "jwt:svc"))
	assert.Zero(t, db.Tables["schedules"].Len())

	_, err = db.PutItem(ctx, putInput("schedules", ddbfake.Item{index.Key: str("k-1"), index.State: str(index.Scheduled)}))
	require.NoError(t, err)
	require.NoError(t, o.RecordPushOwner(ctx, "k-1", "jwt:svc"))
	require.NoError(t, o.RecordPushOwner(ctx, "k-1", "iam:arn:aws:iam::123456789012:role/other"))
	row := db.Tables["schedules"].Get(ddbfake.Item{index.Key: str("k-1")})
	assert.Equal(t, str("jwt:svc"), row[OwnerAttribute], "the first owner stays")
	assert.Equal(t, str(index.Scheduled), row[index.State], "the rest of the row is untouched")

	_, _, err = newOwners(db, "devices", "owners", "no-such-table").DeviceOwner(ctx, "d-bob")
	require.NoError(t, err, "device owners are read from the owners table")
	err = newOwners(db, "devices", "owners", "no-such-table").RecordPushOwner(ctx, "k-1", "jwt:svc")
	assert.ErrorContains(t, err, `record the owner of key "k-1" in no-such-table`)
}

func putInput(table string, item ddbfake.Item) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}
}
