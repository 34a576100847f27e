package recipient_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/recipient"
)

func TestPreferencesCheck(t *testing.T) {
	for _, p := range []recipient.Preferences{
		{},
		{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceUser},
		{TimeZone: "UTC", TimeZoneSource: recipient.SourceDevice},
	} {
		assert.NoError(t, p.Check(), "%+v", p)
	}
	for p, field := range map[recipient.Preferences]string{
		{TimeZone: "../../etc/passwd", TimeZoneSource: recipient.SourceUser}: recipient.FieldTimeZone,
		{TimeZone: "Europe/Berlin"}: recipient.FieldTimeZoneSource,
		{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceDefault}: recipient.FieldTimeZoneSource,
		{TimeZoneSource: recipient.SourceUser}:                               recipient.FieldTimeZoneSource,
	} {
		var ie *recipient.InvalidError
		require.ErrorAs(t, p.Check(), &ie, "%+v", p)
		assert.Equal(t, field, ie.Field)
	}
}

func TestPreferencesZoneOr(t *testing.T) {
	name, source, loc, err := recipient.Preferences{TimeZone: "Asia/Kolkata", TimeZoneSource: "device"}.ZoneOr("Europe/Berlin")
	require.NoError(t, err)
	assert.Equal(t, []string{"Asia/Kolkata", "device", "Asia/Kolkata"}, []string{name, source, loc.String()})

	name, source, _, err = recipient.Preferences{}.ZoneOr("Europe/Berlin")
	require.NoError(t, err)
	assert.Equal(t, []string{"Europe/Berlin", "default"}, []string{name, source})

	name, source, _, err = recipient.Preferences{}.ZoneOr("")
	require.NoError(t, err)
	assert.Equal(t, []string{"UTC", "default"}, []string{name, source}, "a stack without the setting")

	_, _, _, err = recipient.Preferences{}.ZoneOr("Local")
	assert.Error(t, err)
}
