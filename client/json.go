package client

import (
	"encoding/json"
	"time"

	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// The JSON forms below are what the HTTP API answers and `pushctl --json` prints.

type scheduledJSON struct {
	Key              string `json:"key"`
	Revision         int    `json:"revision"`
	State            string `json:"state"`
	Engine           string `json:"engine,omitempty"`
	DueAt            string `json:"dueAt"`
	ExecutionName    string `json:"executionName,omitempty"`
	ScheduleName     string `json:"scheduleName,omitempty"`
	AlreadyScheduled bool   `json:"alreadyScheduled"`
	localJSON
}

// localJSON is how a push for a local time was resolved (absent for other pushes).
type localJSON struct {
	LocalTime      string `json:"localTime,omitempty"`
	TimeZone       string `json:"timeZone,omitempty"`
	TimeZoneSource string `json:"timeZoneSource,omitempty"`
	Resolution     string `json:"resolution,omitempty"`
}

// MarshalJSON writes {"key","revision","state","engine","dueAt","executionName",
// "scheduleName","alreadyScheduled"} and, for a local time, "localTime", "timeZone",
// "timeZoneSource" and "resolution".
func (s Scheduled) MarshalJSON() ([]byte, error) {
	return json.Marshal(scheduledJSON{Key: s.Key, Revision: s.Revision, State: s.State, Engine: s.Engine, DueAt: jsonTime(s.DueAt),
		ExecutionName: s.ExecutionName, ScheduleName: s.ScheduleName, AlreadyScheduled: s.AlreadyScheduled,
		localJSON: localJSON{s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution}})
}

type outcomeJSON struct {
	Result     string `json:"result"`
	FinishedAt string `json:"finishedAt,omitempty"`
	LatenessMs *int64 `json:"latenessMs,omitempty"`
	Endpoints  int    `json:"endpoints"`
	Sent       int    `json:"sent"`
	Failed     int    `json:"failed"`
	Reason     string `json:"reason,omitempty"`
	Cap        string `json:"cap,omitempty"`
	HeldMs     *int64 `json:"heldMs,omitempty"`
}

type statusJSON struct {
	Key             string          `json:"key"`
	State           string          `json:"state"`
	Revision        int             `json:"revision"`
	Engine          string          `json:"engine,omitempty"`
	DueAt           string          `json:"dueAt"`
	TimeLeftSeconds int64           `json:"timeLeftSeconds"`
	Push            json.RawMessage `json:"push"`
	ExecutionName   string          `json:"executionName,omitempty"`
	CreatedAt       string          `json:"createdAt,omitempty"`
	UpdatedAt       string          `json:"updatedAt,omitempty"`
	QuietUntil      string          `json:"quietUntil,omitempty"`
	Outcome         *outcomeJSON    `json:"outcome,omitempty"`
	ExecutionStatus string          `json:"executionStatus,omitempty"`
	Warning         string          `json:"warning,omitempty"`
	localJSON
}

// MarshalJSON writes the status with times in RFC 3339, the time left in whole seconds and
// the push as its contract's JSON.
func (s Status) MarshalJSON() ([]byte, error) {
	j := statusJSON{Key: s.Key, State: s.State, Revision: s.Revision, Engine: s.Engine, DueAt: jsonTime(s.DueAt),
		TimeLeftSeconds: int64(s.TimeLeft / time.Second), Push: push.Encode(s.Push), ExecutionName: s.ExecutionName,
		CreatedAt: jsonTime(s.CreatedAt), UpdatedAt: jsonTime(s.UpdatedAt), ExecutionStatus: s.ExecutionStatus, Warning: s.Warning,
		QuietUntil: jsonTime(s.QuietUntil), localJSON: localJSON{s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution}}
	if o := s.Outcome; o != nil {
		j.Outcome = &outcomeJSON{Result: o.Result, FinishedAt: jsonTime(o.FinishedAt), LatenessMs: o.LatenessMs,
			Endpoints: o.Endpoints, Sent: o.Sent, Failed: o.Failed, Reason: o.Reason, Cap: o.Cap, HeldMs: o.HeldMs}
	}
	return json.Marshal(j)
}

type pageJSON struct {
	Pushes        []Status `json:"pushes"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
}

// MarshalJSON writes {"pushes": [...], "nextPageToken": "..."} (no token on the last page).
func (p Page) MarshalJSON() ([]byte, error) {
	out := pageJSON(p)
	if out.Pushes == nil {
		out.Pushes = []Status{}
	}
	return json.Marshal(out)
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// UserPreferences is a user's preferences as the HTTP API answers and `pushctl prefs
// --json` prints them: the zone that counts for the user (their own, else the stack's
// default, with timeZoneSource "default") and their quiet hours (null for none).
type UserPreferences struct {
	UserID         string      `json:"userId"`
	TimeZone       string      `json:"timeZone"`
	TimeZoneSource string      `json:"timeZoneSource"`
	QuietHours     *QuietHours `json:"quietHours"`
}

// QuietHours are quiet hours as JSON: start and end as HH:MM.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// UserPreferencesOf is p as UserPreferences, defaultZone standing in for a zone p lacks ("" is
// "UTC", a stack before the setting).
func UserPreferencesOf(userID string, p recipient.Preferences, defaultZone string) UserPreferences {
	u := UserPreferences{UserID: userID, TimeZone: p.TimeZone, TimeZoneSource: p.TimeZoneSource}
	if u.TimeZone == "" {
		u.TimeZone, u.TimeZoneSource = defaultZone, recipient.SourceDefault
		if u.TimeZone == "" {
			u.TimeZone = "UTC"
		}
	}
	if start, end := p.Quiet.Clocks(); start != "" {
		u.QuietHours = &QuietHours{Start: start, End: end}
	}
	return u
}
