package client

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
)

// ErrDeviceNotFound: no device has this id.
var ErrDeviceNotFound = devices.ErrNotFound

// SNS is the part of the SNS client the device calls use.
type SNS interface {
	CreatePlatformEndpoint(ctx context.Context, in *sns.CreatePlatformEndpointInput, optFns ...func(*sns.Options)) (*sns.CreatePlatformEndpointOutput, error)
	GetEndpointAttributes(ctx context.Context, in *sns.GetEndpointAttributesInput, optFns ...func(*sns.Options)) (*sns.GetEndpointAttributesOutput, error)
	SetEndpointAttributes(ctx context.Context, in *sns.SetEndpointAttributesInput, optFns ...func(*sns.Options)) (*sns.SetEndpointAttributesOutput, error)
	DeleteEndpoint(ctx context.Context, in *sns.DeleteEndpointInput, optFns ...func(*sns.Options)) (*sns.DeleteEndpointOutput, error)
}

// DevicesDynamoDB is the part of the DynamoDB client the device calls use (they write the
// registry's two tables in one transaction).
type DevicesDynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// WithDevices gives a client made with NewWith the clients its device calls use (New does it
// itself). It returns c.
func (c *Client) WithDevices(s SNS, d DevicesDynamoDB) *Client {
	c.devices = &devices.Registry{
		Endpoints: &awsadapters.SNSEndpoints{Client: s, ApplicationARN: c.res.PlatformApplicationArn},
		Store:     &awsadapters.DeviceStore{Client: d, DevicesTable: c.res.DevicesTable, OwnersTable: c.res.DeviceOwnersTable},
		Now:       c.now,
	}
	if c.prefs != nil {
		// A registration's time zone goes where the user's own would: the same table, as
		// the device calls' DynamoDB client.
		c.devices.Zones = &awsadapters.Preferences{Client: d, Table: c.res.PreferencesTable, Now: c.now}
	}
	return c
}

var errNoDevices = errors.New("device calls need Resources.PlatformApplicationArn, DevicesTable and DeviceOwnersTable " +
	"(ResourcesFromStack reads them) and, with NewWith, WithDevices")

func (c *Client) registry() (*devices.Registry, error) {
	if c.devices == nil || c.res.PlatformApplicationArn == "" || c.res.DevicesTable == "" || c.res.DeviceOwnersTable == "" {
		return nil, errNoDevices
	}
	return c.devices, nil
}

// RegisterDevice registers a device token for a user, as an app backend does each time the
// app starts or its token changes (docs/CONTRACTS.md, "Devices"). Registering the same token
// again changes nothing; a refreshed token with the DeviceID of an earlier answer updates that
// device; a token another user holds moves to this user, and the other user's pushes never
// reach the device again. A registration may report the device's time zone (TimeZone): it
// becomes the user's unless the user set one (SetPreferences), and it needs
// Resources.PreferencesTable. An invalid registration is a *devices.InvalidError naming the field.
func (c *Client) RegisterDevice(ctx context.Context, r devices.Registration) (devices.Result, error) {
	reg, err := c.registry()
	if err != nil {
		return devices.Result{}, err
	}
	return reg.Register(ctx, r)
}

// Devices lists a user's devices, with whether each is enabled and, if not, why.
func (c *Client) Devices(ctx context.Context, userID string) ([]devices.Device, error) {
	reg, err := c.registry()
	if err != nil {
		return nil, err
	}
	return reg.Devices(ctx, userID)
}

// UnregisterDevice removes a device: its SNS endpoint, then its registry rows.
// ErrDeviceNotFound when no device has the id.
func (c *Client) UnregisterDevice(ctx context.Context, deviceID string) (devices.Device, error) {
	reg, err := c.registry()
	if err != nil {
		return devices.Device{}, err
	}
	return reg.Unregister(ctx, deviceID)
}

// UnregisterDevices removes every device of a user (account deletion) and returns them.
func (c *Client) UnregisterDevices(ctx context.Context, userID string) ([]devices.Device, error) {
	reg, err := c.registry()
	if err != nil {
		return nil, err
	}
	return reg.UnregisterUser(ctx, userID)
}

// New passes the SDK's clients.
var (
	_ SNS             = (*sns.Client)(nil)
	_ DevicesDynamoDB = (*dynamodb.Client)(nil)
)
