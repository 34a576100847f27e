// Package recipient is the recipient's clock: their IANA time zone, a push's local wall-clock
// time and their quiet hours, as plain Go that the client, the HTTP API, pushctl and the
// sender share. The rules, as the tests prove them on Go's zone database:
//
//  1. A zone is a name of the IANA database ("UTC" too); "", "Local", paths, unknown names are refused.
//  2. A local time is YYYY-MM-DDTHH:MM[:SS], a real date and time of day, without offset or zone.
//  3. A local time the zone's clock reads once is that instant; one it reads twice is the first.
//  4. A local time the clock skips (spring forward) is the transition, the first instant after it.
//  5. Quiet hours are [start, end) on the clock at t, may span midnight, end when it next reads or skips end.
package recipient

import (
	"fmt"
	"unicode/utf8"

	"github.com/delayed-push/delayed-push/internal/jsonfield"
)

// Fields named by an InvalidError. A caller whose document names them differently (a
// "preferences." prefix, say) rewrites Field; the Reason stands on its own.
const (
	FieldTimeZone   = "timeZone"
	FieldLocalTime  = "localTime"
	FieldQuietStart = "quietHours.start"
	FieldQuietEnd   = "quietHours.end"
)

// InvalidError says which value is wrong and why, with push.InvalidError's wording
// ("invalid <field>: <reason>"). It is a type of its own so that push may one day use this
// package without an import cycle; callers convert it field for field.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// maxShown is how many characters of a refused value an error repeats: enough to recognise
// it, never a megabyte of it.
const maxShown = 40

// show quotes a refused value for an error message: JSON-escaped (control characters stay
// visible and harmless in a log line) and cut after maxShown characters.
func show(s string) string {
	if utf8.RuneCountInString(s) <= maxShown {
		return jsonfield.Quote(s)
	}
	n := 0
	for i := range s {
		if n == maxShown {
			return jsonfield.Quote(s[:i]) + "…"
		}
		n++
	}
	return jsonfield.Quote(s)
}
