package apiapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/internal/index"
)

// OwnerAttribute is the attribute of a schedules row that names the principal that created
// the push through the API: "iam:" and the caller's ARN, or "jwt:" and the token's sub. It is
// a record of who scheduled what; the API grants nothing by it (see internal/httpapi, auth.go).
const OwnerAttribute = "owner"

// owners is httpapi.Owners on DynamoDB: device owners from the registry's owners table, push
// owners on the schedules table's rows.
type owners struct {
	ddb            awsadapters.DeviceStoreAPI
	devices        *awsadapters.DeviceStore
	schedulesTable string
}

var _ httpapi.Owners = (*owners)(nil)

func newOwners(ddb awsadapters.DeviceStoreAPI, devicesTable, ownersTable, schedulesTable string) *owners {
	return &owners{ddb: ddb, schedulesTable: schedulesTable,
		devices: &awsadapters.DeviceStore{Client: ddb, DevicesTable: devicesTable, OwnersTable: ownersTable}}
}

// DeviceOwner reads the device's owner row, consistently (the registry's own read).
func (o *owners) DeviceOwner(ctx context.Context, deviceID string) (string, bool, error) {
	owner, found, err := o.devices.Owner(ctx, deviceID)
	if err != nil || !found || owner.Retired {
		return "", false, err
	}
	return owner.UserID, true, nil
}

// RecordPushOwner sets the owner of the key's row if it has none. The row exists (the client
// wrote it before it answered), and no client or sender write removes other attributes: the
// owner stays for the row's life. A row that has an owner, or is gone, is left as it is.
func (o *owners) RecordPushOwner(ctx context.Context, key, owner string) error {
	_, err := o.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(o.schedulesTable),
		Key:                       map[string]types.AttributeValue{index.Key: &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:          aws.String("SET #owner = :owner"),
		ConditionExpression:       aws.String("attribute_exists(#key) AND attribute_not_exists(#owner)"),
		ExpressionAttributeNames:  map[string]string{"#key": index.Key, "#owner": OwnerAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": &types.AttributeValueMemberS{Value: owner}},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record the owner of key %q in %s: %w", key, o.schedulesTable, err)
	}
	return nil
}
