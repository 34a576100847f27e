package awsadapters

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/delayed-push/delayed-push/recipient"
)

// PreferencesAPI is the part of *dynamodb.Client the preferences store uses.
type PreferencesAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// The preferences table: partition key PrefsUserID (string), no sort key, one item per user
// with the attributes below (quietStart and quietEnd both or neither).
const (
	PrefsUserID         = "userId"
	PrefsTimeZone       = "timeZone"
	PrefsTimeZoneSource = "timeZoneSource"
	PrefsQuietStart     = "quietStart"
	PrefsQuietEnd       = "quietEnd"
	PrefsUpdatedAt      = "updatedAt"
)

// Preferences keeps each recipient's time zone and quiet hours (recipient.Preferences).
//
// A zone the user set wins over one a device reported, whatever the order of the writes: Set
// writes the user's zone unconditionally, SetDeviceZone writes a device's only on the
// condition that the item has no user-set zone. Each is one UpdateItem, so a device's report
// racing the user's setting never overwrites it.
type Preferences struct {
	Client PreferencesAPI
	Table  string
	// Now stamps updatedAt; nil is time.Now.
	Now func() time.Time
}

// Get returns userID's preferences and whether the user has any. The read is strongly
// consistent: the sender reads the preference in force when a push is due, and a user who
// has just set their quiet hours expects them to count.
func (p *Preferences) Get(ctx context.Context, userID string) (recipient.Preferences, bool, error) {
	out, err := p.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(p.Table),
		Key:            p.key(userID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return recipient.Preferences{}, false, fmt.Errorf("get preferences from %s: %w", p.Table, err)
	}
	if out.Item == nil {
		return recipient.Preferences{}, false, nil
	}
	prefs := recipient.Preferences{
		TimeZone:       str(out.Item, PrefsTimeZone),
		TimeZoneSource: str(out.Item, PrefsTimeZoneSource),
	}
	if start, end := str(out.Item, PrefsQuietStart), str(out.Item, PrefsQuietEnd); start != "" || end != "" {
		if prefs.Quiet, err = recipient.ParseQuietHours(start, end); err != nil {
			return recipient.Preferences{}, false, fmt.Errorf("preferences of %s in %s: %w", userID, p.Table, err)
		}
	}
	if err := prefs.Check(); err != nil {
		return recipient.Preferences{}, false, fmt.Errorf("preferences of %s in %s: %w", userID, p.Table, err)
	}
	return prefs, true, nil
}

// Set writes what the user set: the zone when prefs.TimeZone is not "" (marked SourceUser; ""
// leaves the zone the item has, a device's included) and the quiet hours (the zero
// QuietHours removes them). prefs.TimeZoneSource is ignored: what Set writes is the user's.
func (p *Preferences) Set(ctx context.Context, userID string, prefs recipient.Preferences) error {
	if userID == "" {
		return fmt.Errorf("preferences: a user id is required")
	}
	if prefs.TimeZone != "" {
		if _, err := recipient.Zone(prefs.TimeZone); err != nil {
			return err
		}
	}
	set := "SET #up = :t"
	names := map[string]string{"#up": PrefsUpdatedAt}
	values := map[string]types.AttributeValue{":t": s(p.now().UTC().Format(time.RFC3339))}
	if prefs.TimeZone != "" {
		set += ", #z = :z, #src = :user"
		names["#z"], names["#src"] = PrefsTimeZone, PrefsTimeZoneSource
		values[":z"], values[":user"] = s(prefs.TimeZone), s(recipient.SourceUser)
	}
	names["#qs"], names["#qe"] = PrefsQuietStart, PrefsQuietEnd
	update := set + " REMOVE #qs, #qe"
	if start, end := prefs.Quiet.Clocks(); start != "" {
		update = set + ", #qs = :qs, #qe = :qe"
		values[":qs"], values[":qe"] = s(start), s(end)
	}
	_, err := p.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(p.Table),
		Key:                       p.key(userID),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil {
		return fmt.Errorf("set preferences in %s: %w", p.Table, err)
	}
	return nil
}

// SetDeviceZone records the zone a device reported, unless the user has set one: then it
// does nothing and returns nil (the user's zone wins; it is not an error for the device).
func (p *Preferences) SetDeviceZone(ctx context.Context, userID, zone string) error {
	if userID == "" {
		return fmt.Errorf("preferences: a user id is required")
	}
	if _, err := recipient.Zone(zone); err != nil {
		return err
	}
	_, err := p.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(p.Table),
		Key:                 p.key(userID),
		UpdateExpression:    aws.String("SET #z = :z, #src = :device, #up = :t"),
		ConditionExpression: aws.String("attribute_not_exists(#src) OR #src <> :user"),
		ExpressionAttributeNames: map[string]string{
			"#z": PrefsTimeZone, "#src": PrefsTimeZoneSource, "#up": PrefsUpdatedAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":z": s(zone), ":device": s(recipient.SourceDevice), ":user": s(recipient.SourceUser),
			":t": s(p.now().UTC().Format(time.RFC3339)),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set device time zone in %s: %w", p.Table, err)
	}
	return nil
}

func (p *Preferences) key(userID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PrefsUserID: s(userID)}
}

func (p *Preferences) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
