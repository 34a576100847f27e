package awsadapters

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/delayed-push/delayed-push/devices"
)

// SNSEndpointsAPI is the part of *sns.Client the device registry uses.
type SNSEndpointsAPI interface {
	CreatePlatformEndpoint(ctx context.Context, in *sns.CreatePlatformEndpointInput, opts ...func(*sns.Options)) (*sns.CreatePlatformEndpointOutput, error)
	GetEndpointAttributes(ctx context.Context, in *sns.GetEndpointAttributesInput, opts ...func(*sns.Options)) (*sns.GetEndpointAttributesOutput, error)
	SetEndpointAttributes(ctx context.Context, in *sns.SetEndpointAttributesInput, opts ...func(*sns.Options)) (*sns.SetEndpointAttributesOutput, error)
	DeleteEndpoint(ctx context.Context, in *sns.DeleteEndpointInput, opts ...func(*sns.Options)) (*sns.DeleteEndpointOutput, error)
}

// SNSEndpoints is devices.Endpoints on one SNS platform application.
type SNSEndpoints struct {
	Client         SNSEndpointsAPI
	ApplicationARN string
}

var _ devices.Endpoints = (*SNSEndpoints)(nil)

// existingEndpoint finds the ARN in SNS's answer to a token that has an endpoint with other
// attributes (the regular expression of AWS's own example of the flow).
var existingEndpoint = regexp.MustCompile(`Endpoint (arn:aws[a-z-]*:sns[^ ]+) already exists with the same [Tt]oken`)

func (e *SNSEndpoints) Create(ctx context.Context, token string) (string, error) {
	out, err := e.Client.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{
		PlatformApplicationArn: aws.String(e.ApplicationARN),
		Token:                  aws.String(token),
	})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "InvalidParameter" {
			if m := existingEndpoint.FindStringSubmatch(api.ErrorMessage()); m != nil {
				return m[1], nil
			}
		}
		return "", err
	}
	return aws.ToString(out.EndpointArn), nil
}

func (e *SNSEndpoints) Attributes(ctx context.Context, arn string) (devices.EndpointAttributes, bool, error) {
	out, err := e.Client.GetEndpointAttributes(ctx, &sns.GetEndpointAttributesInput{EndpointArn: aws.String(arn)})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "NotFound" {
			return devices.EndpointAttributes{}, false, nil
		}
		return devices.EndpointAttributes{}, false, err
	}
	return devices.EndpointAttributes{Token: out.Attributes["Token"], Enabled: strings.EqualFold(out.Attributes["Enabled"], "true")}, true, nil
}

func (e *SNSEndpoints) Enable(ctx context.Context, arn, token string) error {
	_, err := e.Client.SetEndpointAttributes(ctx, &sns.SetEndpointAttributesInput{
		EndpointArn: aws.String(arn),
		Attributes:  map[string]string{"Token": token, "Enabled": "true"},
	})
	return err
}

func (e *SNSEndpoints) Delete(ctx context.Context, arn string) error {
	_, err := e.Client.DeleteEndpoint(ctx, &sns.DeleteEndpointInput{EndpointArn: aws.String(arn)})
	return err
}

// DeviceStoreAPI is the part of *dynamodb.Client the device store uses.
type DeviceStoreAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DeviceStore is devices.Store on DEVICES_TABLE (userId, endpointArn: what the sender reads)
// and DEVICE_OWNERS_TABLE (deviceId: who owns each device).
type DeviceStore struct {
	Client       DeviceStoreAPI
	DevicesTable string
	OwnersTable  string
}

var _ devices.Store = (*DeviceStore)(nil)

// Conditions on an owner row. A retired device's row is a tombstone without userId (and with
// retiredAt), so that ownedBy fails on it: its id can never be owned again.
const (
	// ownedBy: the owner row is absent or already the user's (and not retired).
	ownedBy = "attribute_not_exists(deviceId) OR userId = :u"
	// retirable: the owner row is the user's, absent, or retired already.
	retirable = "attribute_not_exists(userId) OR userId = :u"
)

func (d *DeviceStore) Owner(ctx context.Context, id string) (devices.Owner, bool, error) {
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.OwnersTable), Key: map[string]types.AttributeValue{"deviceId": s(id)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return devices.Owner{}, false, fmt.Errorf("get %s: %w", d.OwnersTable, err)
	}
	if len(out.Item) == 0 {
		return devices.Owner{}, false, nil
	}
	created, _ := time.Parse(time.RFC3339Nano, str(out.Item, "createdAt"))
	_, hasUser := out.Item["userId"]
	return devices.Owner{DeviceID: id, UserID: str(out.Item, "userId"), EndpointARN: str(out.Item, "endpointArn"),
		Platform: str(out.Item, "platform"), CreatedAt: created, Retired: !hasUser}, true, nil
}

func (d *DeviceStore) Save(ctx context.Context, dev devices.Device, prev *devices.Owner) error {
	created := dev.CreatedAt.UTC().Format(time.RFC3339Nano)
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(d.OwnersTable),
			Item: map[string]types.AttributeValue{
				"deviceId": s(dev.ID), "userId": s(dev.UserID), "endpointArn": s(dev.EndpointARN),
				"platform": s(dev.Platform), "createdAt": s(created),
			},
			ConditionExpression:       aws.String(ownedBy),
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(dev.UserID)},
		}},
		{Put: &types.Put{
			TableName: aws.String(d.DevicesTable),
			Item: map[string]types.AttributeValue{
				"userId": s(dev.UserID), "endpointArn": s(dev.EndpointARN), "deviceId": s(dev.ID),
				"platform": s(dev.Platform), "createdAt": s(created),
				"lastSeenAt": s(dev.LastSeenAt.UTC().Format(time.RFC3339Nano)),
				"enabled":    &types.AttributeValueMemberBOOL{Value: true},
			},
		}},
	}
	if prev != nil {
		items = append(items, d.retirement(*prev, dev.LastSeenAt)...)
	}
	return d.transact(ctx, items)
}

func (d *DeviceStore) Retire(ctx context.Context, o devices.Owner) error {
	return d.transact(ctx, d.retirement(o, time.Now()))
}

// retirement turns a device's owner row into a tombstone, unless another user owns it, and
// deletes its device row.
func (d *DeviceStore) retirement(o devices.Owner, at time.Time) []types.TransactWriteItem {
	return []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(d.OwnersTable),
			Item: map[string]types.AttributeValue{
				"deviceId": s(o.DeviceID), "endpointArn": s(o.EndpointARN), "retiredAt": s(at.UTC().Format(time.RFC3339Nano)),
			},
			ConditionExpression:       aws.String(retirable),
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(o.UserID)},
		}},
		{Delete: &types.Delete{
			TableName: aws.String(d.DevicesTable),
			Key:       map[string]types.AttributeValue{"userId": s(o.UserID), "endpointArn": s(o.EndpointARN)},
		}},
	}
}

func (d *DeviceStore) transact(ctx context.Context, items []types.TransactWriteItem) error {
	_, err := d.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		for _, r := range cancelled.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return devices.ErrRace
			}
		}
	}
	if err != nil {
		return fmt.Errorf("transact %s and %s: %w", d.OwnersTable, d.DevicesTable, err)
	}
	return nil
}

func (d *DeviceStore) List(ctx context.Context, userID string) ([]devices.Device, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.DevicesTable),
		KeyConditionExpression:    aws.String("userId = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(userID)},
		ConsistentRead:            aws.Bool(true),
	}
	var out []devices.Device
	pages := dynamodb.NewQueryPaginator(d.Client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s for user devices: %w", d.DevicesTable, err)
		}
		for _, item := range page.Items {
			out = append(out, deviceOf(item))
		}
	}
	return out, nil
}

func (d *DeviceStore) Disable(ctx context.Context, userID, arn, reason string, at time.Time) (bool, error) {
	return disableDevice(ctx, d.Client, d.DevicesTable, userID, arn, reason, at)
}

// disableDevice marks a device row disabled, if it exists.
func disableDevice(ctx context.Context, c interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}, table, userID, arn, reason string, at time.Time) (bool, error) {
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(table),
		Key:                 map[string]types.AttributeValue{"userId": s(userID), "endpointArn": s(arn)},
		UpdateExpression:    aws.String("SET enabled = :f, disabledReason = :r, disabledAt = :t"),
		ConditionExpression: aws.String("attribute_exists(userId)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":f": &types.AttributeValueMemberBOOL{Value: false}, ":r": s(reason), ":t": s(at.UTC().Format(time.RFC3339Nano)),
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("update %s: %w", table, err)
	}
	return true, nil
}

// deviceOf reads a device row. Rows written before devices were registered through the
// registry have only userId, endpointArn, platform and createdAt: they count as enabled.
func deviceOf(item map[string]types.AttributeValue) devices.Device {
	arn := str(item, "endpointArn")
	dev := devices.Device{ID: str(item, "deviceId"), UserID: str(item, "userId"), EndpointARN: arn,
		Platform: str(item, "platform"), Enabled: true, DisabledReason: str(item, "disabledReason")}
	if dev.ID == "" {
		dev.ID = devices.IDOf(arn)
	}
	if b, ok := item["enabled"].(*types.AttributeValueMemberBOOL); ok {
		dev.Enabled = b.Value
	}
	dev.CreatedAt, _ = time.Parse(time.RFC3339Nano, str(item, "createdAt"))
	dev.LastSeenAt, _ = time.Parse(time.RFC3339Nano, str(item, "lastSeenAt"))
	if t, err := time.Parse(time.RFC3339Nano, str(item, "disabledAt")); err == nil {
		dev.DisabledAt = &t
	}
	return dev
}
