package index

// The attributes of a push scheduled for a local wall-clock time (client.Request.LocalTime):
// what was asked, the zone it was read in, where that zone came from and how the time became
// the due time. Absent on a push scheduled by delay or instant.
const (
	LocalTime      = "localTime"      // S: YYYY-MM-DDTHH:MM[:SS], as asked
	TimeZone       = "timeZone"       // S: IANA name
	TimeZoneSource = "timeZoneSource" // S: user, device or default
	Resolution     = "resolution"     // S: exact, gap-shifted or ambiguous-first
)
