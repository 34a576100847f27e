package recipient

import "time"

// Where a recipient's time zone came from. A zone the user set wins over one a device
// reported: the store writes a device's zone only while the user has set none.
const (
	SourceUser   = "user"   // set by the user (the client, the HTTP API, pushctl)
	SourceDevice = "device" // reported by a device when it registered
	// SourceDefault is never stored: it says a resolution used the stack's default zone
	// because the recipient has none.
	SourceDefault = "default"
)

// Preferences are what the product keeps about a recipient's clock: their IANA time zone,
// where it came from, and their quiet hours. The zero Preferences is a recipient who has set
// nothing: no zone (the stack's default applies) and no quiet hours.
type Preferences struct {
	TimeZone       string     // IANA name, "" for none
	TimeZoneSource string     // SourceUser or SourceDevice; "" when TimeZone is ""
	Quiet          QuietHours // the zero QuietHours is none
}

// Check validates stored or submitted preferences: a zone Zone accepts (or none) with a known
// source. Errors are *InvalidError naming FieldTimeZone or FieldTimeZoneSource.
func (p Preferences) Check() error {
	if p.TimeZone == "" {
		if p.TimeZoneSource != "" {
			return invalid(FieldTimeZoneSource, "is %s without a time zone", show(p.TimeZoneSource))
		}
		return nil
	}
	if _, err := Zone(p.TimeZone); err != nil {
		return err
	}
	if p.TimeZoneSource != SourceUser && p.TimeZoneSource != SourceDevice {
		return invalid(FieldTimeZoneSource, "%s is not %q or %q", show(p.TimeZoneSource), SourceUser, SourceDevice)
	}
	return nil
}

// FieldTimeZoneSource names where a zone came from in an InvalidError.
const FieldTimeZoneSource = "timeZoneSource"

// ZoneOr is the zone that counts for p and where it came from: p's own, else defaultZone
// with SourceDefault. defaultZone is validated too (a stack's configuration), "" reading as
// "UTC" for a stack that predates the setting.
func (p Preferences) ZoneOr(defaultZone string) (name, source string, loc *time.Location, err error) {
	name, source = p.TimeZone, p.TimeZoneSource
	if name == "" {
		name, source = defaultZone, SourceDefault
		if name == "" {
			name = "UTC"
		}
	}
	loc, err = Zone(name)
	if err != nil {
		return "", "", nil, err
	}
	return name, source, loc, nil
}
