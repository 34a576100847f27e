package recipient

import (
	"strings"
	"time"

	// The embedded zone database, so every program that validates a zone through this
	// package (the API and sender Lambdas, a producer's Go client, pushctl) knows every IANA
	// zone even where the system has none: provided.al2023 and scratch images may lack
	// /usr/share/zoneinfo. It costs about 400 KB per binary (measured +393,216 bytes on a
	// stripped linux/arm64 Lambda). The system's database, when present, still comes first;
	// Zone accepts only names of the form the embedded one holds, so the set of accepted
	// names does not depend on the machine.
	_ "time/tzdata"
)

// MaxZoneLen is the longest zone name accepted, in bytes; the longest IANA name has 32.
const MaxZoneLen = 64

// Zone validates an IANA time zone name ("Europe/Berlin", "UTC") and loads its rules.
//
// Refused, with an *InvalidError naming FieldTimeZone and the value: "" (LoadLocation reads it
// as UTC), "Local" (the machine's zone, different on every machine), anything that is not a
// zone name's form — components of 1..14 ASCII letters, digits, '_', '+' or '-', each starting
// with a capital letter, joined by '/' — which refuses paths, "..", spaces, control characters
// and the system-only files (posix/..., right/..., localtime, posixrules, zone.tab); and any
// name LoadLocation does not know ("Etc/GMT+99").
func Zone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, invalid(FieldTimeZone, "is required: an IANA time zone like \"Europe/Berlin\"")
	case len(name) > MaxZoneLen:
		return nil, invalid(FieldTimeZone, "is %d bytes long, more than %d: %s is not an IANA time zone", len(name), MaxZoneLen, show(name))
	case name == "Local":
		return nil, invalid(FieldTimeZone, "\"Local\" is the server's own zone, not an IANA time zone: give the recipient's, like \"Europe/Berlin\"")
	case !zoneNameForm(name):
		return nil, invalid(FieldTimeZone, "%s is not an IANA time zone name (like \"America/New_York\")", show(name))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid(FieldTimeZone, "unknown time zone %s: not in the IANA time zone database", show(name))
	}
	return loc, nil
}

// zoneNameForm reports whether name has the form of the IANA database's names: every name
// it holds has it, and none of the other files of a system's zoneinfo directory does.
func zoneNameForm(name string) bool {
	for part := range strings.SplitSeq(name, "/") {
		if len(part) == 0 || len(part) > 14 || part[0] < 'A' || part[0] > 'Z' {
			return false
		}
		for i := 1; i < len(part); i++ {
			c := part[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-') {
				return false
			}
		}
	}
	return true
}
