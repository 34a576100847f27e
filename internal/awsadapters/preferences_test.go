package awsadapters_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/recipient"
)

func prefsStore() (*awsadapters.Preferences, *ddbfake.Table) {
	tb := ddbfake.New(awsadapters.PrefsUserID)
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	return &awsadapters.Preferences{Client: tb, Table: "preferences", Now: func() time.Time { return t0 }}, tb
}

func quiet(t *testing.T, start, end string) recipient.QuietHours {
	t.Helper()
	q, err := recipient.ParseQuietHours(start, end)
	require.NoError(t, err)
	return q
}

func getPrefs(t *testing.T, p *awsadapters.Preferences, user string) (recipient.Preferences, bool) {
	t.Helper()
	got, ok, err := p.Get(context.Background(), user)
	require.NoError(t, err)
	return got, ok
}

func TestPreferencesRoundTrip(t *testing.T) {
	ctx := context.Background()
	p, tb := prefsStore()
	_, ok := getPrefs(t, p, "u1")
	assert.False(t, ok, "a user who set nothing has no preferences")

	require.NoError(t, p.Set(ctx, "u1", recipient.Preferences{TimeZone: "Europe/Berlin", Quiet: quiet(t, "22:00", "07:00")}))
	got, ok := getPrefs(t, p, "u1")
	require.True(t, ok)
	assert.Equal(t, recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: "user", Quiet: quiet(t, "22:00", "07:00")}, got)
	item := tb.Get(map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: "u1"}})
	assert.Equal(t, &types.AttributeValueMemberS{Value: "22:00"}, item["quietStart"])
	assert.Equal(t, &types.AttributeValueMemberS{Value: "07:00"}, item["quietEnd"])
	assert.Equal(t, &types.AttributeValueMemberS{Value: "2026-12-06T09:00:00Z"}, item["updatedAt"])

	// No zone given: the zone stays; the zero quiet hours remove them.
	require.NoError(t, p.Set(ctx, "u1", recipient.Preferences{}))
	got, _ = getPrefs(t, p, "u1")
	assert.Equal(t, recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: "user"}, got)
	item = tb.Get(map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: "u1"}})
	assert.NotContains(t, item, "quietStart")
	assert.NotContains(t, item, "quietEnd")
}

func TestPreferencesRefuseBadValuesBeforeWriting(t *testing.T) {
	ctx := context.Background()
	p, tb := prefsStore()
	for _, zone := range []string{"../../etc/passwd", "Local", "Mars/Olympus", "Europe/Berlin\x00"} {
		var ie *recipient.InvalidError
		require.ErrorAs(t, p.Set(ctx, "u1", recipient.Preferences{TimeZone: zone}), &ie, zone)
		assert.Equal(t, "timeZone", ie.Field)
		require.ErrorAs(t, p.SetDeviceZone(ctx, "u1", zone), &ie, zone)
		assert.Equal(t, "timeZone", ie.Field)
	}
	assert.Zero(t, tb.Len())
}

func TestPreferencesADeviceZoneNeverOverwritesTheUsers(t *testing.T) {
	ctx := context.Background()
	p, _ := prefsStore()

	require.NoError(t, p.SetDeviceZone(ctx, "u1", "America/New_York"))
	got, _ := getPrefs(t, p, "u1")
	assert.Equal(t, recipient.Preferences{TimeZone: "America/New_York", TimeZoneSource: "device"}, got)

	require.NoError(t, p.SetDeviceZone(ctx, "u1", "America/Chicago"), "a device's zone replaces a device's")
	got, _ = getPrefs(t, p, "u1")
	assert.Equal(t, "America/Chicago", got.TimeZone)

	require.NoError(t, p.Set(ctx, "u1", recipient.Preferences{TimeZone: "Asia/Kolkata", Quiet: quiet(t, "23:00", "06:30")}))
	require.NoError(t, p.SetDeviceZone(ctx, "u1", "Europe/Berlin"), "refused quietly: the user's zone wins")
	got, _ = getPrefs(t, p, "u1")
	assert.Equal(t, recipient.Preferences{TimeZone: "Asia/Kolkata", TimeZoneSource: "user", Quiet: quiet(t, "23:00", "06:30")}, got)

	// Quiet hours alone are not a zone: a device may still report one.
	require.NoError(t, p.Set(ctx, "u2", recipient.Preferences{Quiet: quiet(t, "22:00", "07:00")}))
	require.NoError(t, p.SetDeviceZone(ctx, "u2", "Pacific/Kiritimati"))
	got, _ = getPrefs(t, p, "u2")
	assert.Equal(t, recipient.Preferences{TimeZone: "Pacific/Kiritimati", TimeZoneSource: "device", Quiet: quiet(t, "22:00", "07:00")}, got)
}

// A user's setting and devices' reports racing, in any interleaving: the user's zone is what
// stays. ddbfake applies each call atomically, as DynamoDB does.
func TestPreferencesTheUserWinsARaceWithDevices(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		p, _ := prefsStore()
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, p.SetDeviceZone(ctx, "u1", []string{"America/New_York", "Europe/Berlin"}[i%2]))
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, p.Set(ctx, "u1", recipient.Preferences{TimeZone: "Australia/Lord_Howe"}))
		}()
		wg.Wait()
		got, _ := getPrefs(t, p, "u1")
		require.Equal(t, recipient.Preferences{TimeZone: "Australia/Lord_Howe", TimeZoneSource: "user"}, got, "round %d", round)
	}
}

func TestPreferencesGetRefusesACorruptItem(t *testing.T) {
	ctx := context.Background()
	p, tb := prefsStore()
	_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("preferences"), Item: map[string]types.AttributeValue{
		"userId": &types.AttributeValueMemberS{Value: "u1"}, "timeZone": &types.AttributeValueMemberS{Value: "Nowhere/Else"},
		"timeZoneSource": &types.AttributeValueMemberS{Value: "user"},
	}})
	require.NoError(t, err)
	_, _, err = p.Get(ctx, "u1")
	var ie *recipient.InvalidError
	require.True(t, errors.As(err, &ie), "%v", err)
	assert.Equal(t, "timeZone", ie.Field)
}
