package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// PreferencesRequest is what SetPreferences changes. Each part left at its zero value keeps
// what the user has.
type PreferencesRequest struct {
	// TimeZone is the user's IANA time zone ("Europe/Berlin"); "" keeps the zone. A zone set
	// here wins over any a device reports.
	TimeZone string
	// QuietStart and QuietEnd are the user's quiet hours, "HH:MM" on their wall clock, both
	// or neither (22:00 and 07:00 span midnight); neither keeps them.
	QuietStart, QuietEnd string
	// NoQuietHours removes the quiet hours (not with QuietStart or QuietEnd).
	NoQuietHours bool
}

var errNoPreferences = errors.New("preferences need Resources.PreferencesTable (the stack output " + OutputPreferencesTable +
	", which ResourcesFromStack reads): is the stack deployed from this version?")

// SetPreferences sets a user's time zone and quiet hours and returns their preferences as
// stored. A malformed value is a *recipient.InvalidError naming the field (timeZone,
// quietHours.start, quietHours.end, quietHours), refused before anything is written.
func (c *Client) SetPreferences(ctx context.Context, userID string, r PreferencesRequest) (recipient.Preferences, error) {
	if c.prefs == nil {
		return recipient.Preferences{}, errNoPreferences
	}
	if err := validateUser(userID); err != nil {
		return recipient.Preferences{}, err
	}
	if r.TimeZone != "" {
		if _, err := recipient.Zone(r.TimeZone); err != nil {
			return recipient.Preferences{}, err
		}
	}
	var quiet recipient.QuietHours
	keepQuiet := false
	switch {
	case r.NoQuietHours && (r.QuietStart != "" || r.QuietEnd != ""):
		return recipient.Preferences{}, &recipient.InvalidError{Field: FieldQuietHours, Reason: "both removed and given: give a start and an end, or remove them"}
	case r.NoQuietHours:
	case r.QuietStart == "" && r.QuietEnd == "":
		keepQuiet = true
	default:
		var err error
		if quiet, err = recipient.ParseQuietHours(r.QuietStart, r.QuietEnd); err != nil {
			return recipient.Preferences{}, err
		}
	}
	if keepQuiet {
		had, _, err := c.prefs.Get(ctx, userID)
		if err != nil {
			return recipient.Preferences{}, err
		}
		quiet = had.Quiet
	}
	if err := c.prefs.Set(ctx, userID, recipient.Preferences{TimeZone: r.TimeZone, Quiet: quiet}); err != nil {
		return recipient.Preferences{}, err
	}
	p, _, err := c.prefs.Get(ctx, userID)
	return p, err
}

// DefaultTimeZone is the zone of a user who has none: Resources.DefaultTimeZone, or "UTC".
func (c *Client) DefaultTimeZone() string {
	if c.res.DefaultTimeZone == "" {
		return "UTC"
	}
	return c.res.DefaultTimeZone
}

// FieldQuietHours names the quiet hours as a whole in an error.
const FieldQuietHours = "quietHours"

// Preferences returns a user's preferences and whether they have any (a user who set nothing,
// and whose devices reported no zone, has none: the stack's default zone applies).
func (c *Client) Preferences(ctx context.Context, userID string) (recipient.Preferences, bool, error) {
	if c.prefs == nil {
		return recipient.Preferences{}, false, errNoPreferences
	}
	if err := validateUser(userID); err != nil {
		return recipient.Preferences{}, false, err
	}
	return c.prefs.Get(ctx, userID)
}

// validateUser checks a user id as a device registration does, naming the field userId.
func validateUser(userID string) error {
	if err := devices.ValidateUserID(userID); err != nil {
		var ie *devices.InvalidError
		if errors.As(err, &ie) {
			return &recipient.InvalidError{Field: ie.Field, Reason: ie.Reason}
		}
		return err
	}
	return nil
}

// local is how a request's local time became its due time, recorded on the row.
type local struct {
	Time, Zone, Source string
	Resolution         recipient.Resolution
}

// resolveLocal turns a local wall-clock time for p's user into an instant: in the user's
// zone (their preferences), else the stack's default. Errors name localTime and the fields
// it needs, as the other schedule fields do (*push.InvalidError).
func (c *Client) resolveLocal(ctx context.Context, p push.Push, text string, delay time.Duration, at time.Time) (local, time.Time, error) {
	lt, err := recipient.ParseLocalTime(text)
	if err != nil {
		return local{}, time.Time{}, asPushError(err)
	}
	switch {
	case delay != 0 || !at.IsZero():
		return local{}, time.Time{}, &push.InvalidError{Field: recipient.FieldLocalTime, Reason: "given with a delay or a time (delaySeconds, sendAt): exactly one is allowed"}
	case p.UserID == "":
		return local{}, time.Time{}, &push.InvalidError{Field: recipient.FieldLocalTime, Reason: "needs push.userId: a local time is read on one user's clock, not an endpoint's"}
	}
	var prefs recipient.Preferences
	if c.prefs != nil {
		if prefs, _, err = c.prefs.Get(ctx, p.UserID); err != nil {
			return local{}, time.Time{}, fmt.Errorf("local time: %w", err)
		}
	}
	zone, source, loc, err := prefs.ZoneOr(c.res.DefaultTimeZone)
	if err != nil {
		return local{}, time.Time{}, fmt.Errorf("local time: the stack's default time zone: %w", err)
	}
	due, how := lt.Resolve(loc)
	return local{Time: lt.String(), Zone: zone, Source: source, Resolution: how}, due, nil
}

// localAttributes are the schedules row's attributes of a local time.
var localAttributes = []string{index.LocalTime, index.TimeZone, index.TimeZoneSource, index.Resolution}

// attributes are l's row attributes; none when the push is not for a local time.
func (l local) attributes() map[string]string {
	if l.Time == "" {
		return nil
	}
	return map[string]string{index.LocalTime: l.Time, index.TimeZone: l.Zone, index.TimeZoneSource: l.Source,
		index.Resolution: string(l.Resolution)}
}

// of is s with l's fields.
func (l local) of(s Scheduled) Scheduled {
	s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution = l.Time, l.Zone, l.Source, string(l.Resolution)
	return s
}

// asPushError converts a *recipient.InvalidError to a *push.InvalidError, field for field,
// so that every schedule error is one type.
func asPushError(err error) error {
	var ie *recipient.InvalidError
	if errors.As(err, &ie) {
		return &push.InvalidError{Field: ie.Field, Reason: ie.Reason}
	}
	return err
}

var _ devices.Zones = (*awsadapters.Preferences)(nil)
