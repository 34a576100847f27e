// Package push is the push message every producer puts on the push queue, and the "push" of a
// scheduled push's execution input (docs/CONTRACTS.md): its fields, its strict decoding and
// its validation. Go backends import it to check a push before sending it; the sender, the
// client, the HTTP API and the CLI use the same rules, and the scheduler's state machine
// applies them too, so a push gets the same answer whichever way it comes in.
package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/delayed-push/delayed-push/internal/jsonfield"
)

// Contract limits (docs/CONTRACTS.md).
const (
	// Version is the only contract version; "v" may be omitted.
	Version = 1
	// MaxIDLen is the longest push id accepted, in characters.
	MaxIDLen = 256
	// MaxTTLSeconds is FCM's maximum time to live, 28 days.
	MaxTTLSeconds = 2419200
	// MaxLatenessSeconds is the largest lateness limit: as far ahead as a push can be
	// scheduled (schedule.MaxDelaySeconds).
	MaxLatenessSeconds = 365*24*3600 - 3600

	PriorityHigh   = "high"
	PriorityNormal = "normal"

	// DeliveryAtLeastOnce and DeliveryAtMostOnce are the values of "delivery": what the
	// sender does when it cannot know whether an earlier attempt reached SNS (docs/guarantees.md,
	// "Delivery guarantees"). Absent means the stack's default.
	DeliveryAtLeastOnce = "at-least-once"
	DeliveryAtMostOnce  = "at-most-once"

	// QuietHold, QuietDrop and QuietIgnore are the values of "quietHours": what the sender does
	// with a push that becomes due inside its recipient's quiet hours (docs/guarantees.md,
	// "Quiet hours and frequency caps"). Absent means QuietHold.
	QuietHold   = "hold"
	QuietDrop   = "drop"
	QuietIgnore = "ignore"
	// MaxCategoryLen is the longest category, in characters (a-z, 0-9, "-", "_").
	MaxCategoryLen = 32

	// DataKeyPushID is the data key the sender sets to the push id in every FCM message, so
	// an app can drop a repeat. Producers may not set it.
	DataKeyPushID = "pushId"
)

// Push is the queue message body and the "push" of a schedule input.
type Push struct {
	// V is the contract version; 0 means absent.
	V           int               `json:"v,omitempty"`
	ID          string            `json:"id,omitempty"`
	UserID      string            `json:"userId,omitempty"`
	EndpointARN string            `json:"endpointArn,omitempty"`
	Title       string            `json:"title,omitempty"`
	Body        string            `json:"body,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
	// TTLSeconds is a pointer because 0 ("deliver now or drop") differs from absent (FCM's
	// default of 28 days).
	TTLSeconds  *int   `json:"ttlSeconds,omitempty"`
	CollapseKey string `json:"collapseKey,omitempty"`
	Priority    string `json:"priority,omitempty"`
	DueAt       string `json:"dueAt,omitempty"`
	// Delivery is DeliveryAtLeastOnce, DeliveryAtMostOnce or "" (the stack's default).
	Delivery string `json:"delivery,omitempty"`
	// MaxLatenessSeconds: a push that would go out later than this after its due time is
	// recorded expired and not sent. 0 means absent (the stack's default).
	MaxLatenessSeconds int `json:"maxLatenessSeconds,omitempty"`
	// Revision is set by the client on a push it schedules: a push on the queue whose
	// revision is older than its key's current one (it was rescheduled) is not sent.
	Revision int `json:"revision,omitempty"`
	// QuietHours is QuietHold, QuietDrop, QuietIgnore or "" (QuietHold): what becomes of the
	// push when it is due inside its user's quiet hours.
	QuietHours string `json:"quietHours,omitempty"`
	// Cap is a pointer because false (exempt from frequency caps) differs from absent (true).
	Cap *bool `json:"cap,omitempty"`
	// Category names the frequency caps the push counts against besides the stack's; "" is none.
	Category string `json:"category,omitempty"`
}

// Exempt reports whether the push is exempt from frequency caps ("cap": false).
func (p *Push) Exempt() bool { return p.Cap != nil && !*p.Cap }

// QuietMode is what the push asks for inside quiet hours: QuietHold when it does not say.
func (p *Push) QuietMode() string {
	if p.QuietHours == "" {
		return QuietHold
	}
	return p.QuietHours
}

// fields are the contract's fields, in the order they are checked.
var fields = []string{"v", "id", "userId", "endpointArn", "title", "body", "data", "ttlSeconds",
	"collapseKey", "priority", "dueAt", "delivery", "maxLatenessSeconds", "revision", "quietHours", "cap", "category"}

// InvalidError says which field of a push (or schedule input) is wrong and why. Field is a JSON
// path such as "ttlSeconds" or "push.title"; "$" means the document as a whole. Error() is
// "invalid <field>: <reason>", the same text the state machine gives as the cause.
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

// Decode parses and validates one push: a JSON object whose fields are the contract's, each
// of its type, with every rule of Validate. The first problem is returned as an
// *InvalidError naming the field: an unknown field first (in the document's order), then the
// fields in the contract's order.
func Decode(b []byte) (Push, error) {
	obj, err := jsonfield.DecodeObject(b)
	if err != nil {
		return Push{}, invalid("$", "%v", err)
	}
	return fromObject(obj)
}

func fromObject(obj jsonfield.Object) (Push, error) {
	if k := obj.Unknown(fields); k != "" {
		return Push{}, invalid(k, "unknown field")
	}
	// First the types (and the rules of data's keys and the two fields whose 0 is not
	// absent), field by field in the contract's order; then the rules on the values.
	var p Push
	strs := map[string]*string{"id": &p.ID, "userId": &p.UserID, "endpointArn": &p.EndpointARN, "title": &p.Title,
		"body": &p.Body, "collapseKey": &p.CollapseKey, "priority": &p.Priority, "dueAt": &p.DueAt, "delivery": &p.Delivery}
	for _, name := range fields {
		raw, ok := obj.Members[name]
		if !ok {
			continue
		}
		var err error
		switch name {
		case "v":
			p.V, err = integer(name, raw)
			if err == nil && p.V != Version {
				err = invalid(name, "unsupported version %d (want %d or absent)", p.V, Version)
			}
		case "data":
			p.Data, err = stringMap(name, raw)
		case "ttlSeconds":
			var n int
			n, err = integer(name, raw)
			p.TTLSeconds = &n
		case "maxLatenessSeconds":
			p.MaxLatenessSeconds, err = integer(name, raw)
			if err == nil {
				err = checkMaxLateness(p.MaxLatenessSeconds)
			}
		case "revision":
			p.Revision, err = integer(name, raw)
			if err == nil {
				err = checkRevision(p.Revision)
			}
		case "quietHours":
			// Present, "" is no value: only absent means the default.
			p.QuietHours, err = str(name, raw)
			if err == nil {
				err = checkQuietHours(p.QuietHours)
			}
		case "cap":
			switch b := string(bytes.TrimSpace(raw)); b {
			case "true", "false":
				v := b == "true"
				p.Cap = &v
			default:
				err = invalid(name, "must be a boolean (false: exempt from frequency caps)")
			}
		case "category":
			p.Category, err = str(name, raw)
			if err == nil {
				err = checkCategory(p.Category)
			}
		default: // the string fields
			*strs[name], err = str(name, raw)
		}
		if err != nil {
			return Push{}, err
		}
	}
	if err := p.validateValues(); err != nil {
		return Push{}, err
	}
	return p, nil
}

// str reads a string field: a JSON string of characters SQS accepts.
func str(name string, raw json.RawMessage) (string, error) {
	s, err := jsonfield.String(raw)
	if err != nil {
		return "", invalid(name, "%v", err)
	}
	return s, nil
}

// integer reads a JSON number with an integral value (300, 300.0 and 3e2 are 300).
func integer(name string, raw json.RawMessage) (int, error) {
	n, ok := jsonfield.Integer(raw)
	if !ok {
		return 0, invalid(name, "must be an integer")
	}
	return int(n), nil
}

// stringMap reads data: an object of strings whose keys FCM accepts, checked key by key in
// the document's order.
func stringMap(name string, raw json.RawMessage) (map[string]string, error) {
	obj, err := jsonfield.DecodeObject(raw)
	if err != nil {
		return nil, invalid(name, "must be a JSON object of strings")
	}
	safe := jsonfield.SQSSafeKeys(raw)
	out := make(map[string]string, len(obj.Keys))
	for _, k := range obj.Keys {
		if err := checkDataKey(k, safe[k]); err != nil {
			return nil, err
		}
		s, err := str(name+"."+k, obj.Members[k])
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

// Validate checks every rule of the contract on a Push built in Go (decoding checks the
// same rules); validate a Push before sending it.
func (p *Push) Validate() error {
	if err := checkMaxLateness(p.MaxLatenessSeconds); p.MaxLatenessSeconds != 0 && err != nil {
		return err
	}
	if err := checkRevision(p.Revision); p.Revision != 0 && err != nil {
		return err
	}
	if err := checkQuietHours(p.QuietHours); p.QuietHours != "" && err != nil {
		return err
	}
	if err := checkCategory(p.Category); p.Category != "" && err != nil {
		return err
	}
	for _, k := range p.dataKeys() {
		if err := checkDataKey(k, utf8.ValidString(k) && jsonfield.SQSSafe(k)); err != nil {
			return err
		}
	}
	if err := p.checkStrings(); err != nil {
		return err
	}
	return p.validateValues()
}

// dataKeys are the keys of p.Data, sorted, so that the first problem found is always the same.
func (p *Push) dataKeys() []string {
	keys := make([]string, 0, len(p.Data))
	for k := range p.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkStrings checks that every string of a Push built in Go is valid UTF-8 of characters
// SQS accepts (Decode checks them field by field as it reads them).
func (p *Push) checkStrings() error {
	fields := []struct{ name, value string }{
		{"id", p.ID}, {"userId", p.UserID}, {"endpointArn", p.EndpointARN}, {"title", p.Title}, {"body", p.Body},
	}
	for _, k := range p.dataKeys() {
		fields = append(fields, struct{ name, value string }{"data." + k, p.Data[k]})
	}
	fields = append(fields, []struct{ name, value string }{
		{"collapseKey", p.CollapseKey}, {"priority", p.Priority}, {"dueAt", p.DueAt}, {"delivery", p.Delivery},
	}...)
	for _, f := range fields {
		switch {
		case !utf8.ValidString(f.value):
			return invalid(f.name, "is not valid UTF-8")
		case !jsonfield.SQSSafe(f.value):
			return invalid(f.name, "%s", jsonfield.SQSRefused)
		}
	}
	return nil
}

// validateValues checks the rules that span fields or read a value, in the order the
// state machine checks them (statemachines/scheduler.asl.json).
func (p *Push) validateValues() error {
	switch {
	case p.V != 0 && p.V != Version:
		return invalid("v", "unsupported version %d (want %d or absent)", p.V, Version)
	case !utf8.ValidString(p.ID):
		return invalid("id", "is not valid UTF-8")
	case utf8.RuneCountInString(p.ID) > MaxIDLen:
		return invalid("id", "is %d characters, at most %d", utf8.RuneCountInString(p.ID), MaxIDLen)
	case p.UserID == "" && p.EndpointARN == "":
		return invalid("userId", "missing recipient: exactly one of userId and endpointArn is required")
	case p.UserID != "" && p.EndpointARN != "":
		return invalid("endpointArn", "both userId and endpointArn given: exactly one is allowed")
	case p.EndpointARN != "" && !strings.HasPrefix(p.EndpointARN, "arn:"):
		return invalid("endpointArn", "is not an ARN")
	case p.Title == "" && p.Body == "":
		return invalid("title", "title and body are both empty: at least one is required")
	case p.TTLSeconds != nil && (*p.TTLSeconds < 0 || *p.TTLSeconds > MaxTTLSeconds):
		return invalid("ttlSeconds", "must be 0..%d, got %d", MaxTTLSeconds, *p.TTLSeconds)
	case p.Priority != "" && p.Priority != PriorityHigh && p.Priority != PriorityNormal:
		return invalid("priority", "must be %q or %q, got %s", PriorityHigh, PriorityNormal, jsonfield.Quote(p.Priority))
	case p.Delivery != "" && p.Delivery != DeliveryAtLeastOnce && p.Delivery != DeliveryAtMostOnce:
		return invalid("delivery", "must be %q or %q, got %s", DeliveryAtLeastOnce, DeliveryAtMostOnce, jsonfield.Quote(p.Delivery))
	}
	if p.DueAt != "" {
		if _, ok := jsonfield.ParseTime(p.DueAt); !ok {
			return invalid("dueAt", "is not an RFC 3339 time: %s", jsonfield.Quote(p.DueAt))
		}
	}
	return nil
}

func checkMaxLateness(n int) error {
	if n < 1 || n > MaxLatenessSeconds {
		return invalid("maxLatenessSeconds", "must be 1..%d, got %d", MaxLatenessSeconds, n)
	}
	return nil
}

func checkQuietHours(s string) error {
	if s != QuietHold && s != QuietDrop && s != QuietIgnore {
		return invalid("quietHours", "must be %q, %q or %q, got %s", QuietHold, QuietDrop, QuietIgnore, jsonfield.Quote(s))
	}
	return nil
}

// checkCategory: 1..MaxCategoryLen characters of a-z, 0-9, "-" and "_" (what the caps
// configuration names categories with).
func checkCategory(s string) error {
	ok := s != "" && len(s) <= MaxCategoryLen
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return invalid("category", "must be 1..%d characters of a-z, 0-9, \"-\" and \"_\", got %s", MaxCategoryLen, jsonfield.Quote(s))
	}
	return nil
}

func checkRevision(n int) error {
	if n < 1 {
		return invalid("revision", "must be 1 or more, got %d", n)
	}
	return nil
}

// checkDataKey rejects data keys FCM refuses ("from", "message_type", "google." and "gcm."
// prefixes), so the push fails here with a named field instead of as an opaque
// InvalidParameter from SNS. "notification" is allowed: FCM accepts it in practice.
func checkDataKey(k string, sqsSafe bool) error {
	lower := strings.ToLower(k)
	switch {
	case k == "":
		return invalid("data", "has an empty key")
	case !sqsSafe:
		return invalid("data", "has a key that %s", jsonfield.SQSRefused)
	case lower == "from" || lower == "message_type" ||
		strings.HasPrefix(lower, "google.") || strings.HasPrefix(lower, "gcm."):
		return invalid("data."+k, "key is reserved by FCM")
	case k == DataKeyPushID:
		return invalid("data."+k, "key is reserved: the sender sets it to the push id")
	}
	return nil
}

// PeekID returns the "id" of a message body that may be invalid, so that even a rejected push
// is logged and parked under its own id. It returns "" when there is none to be found.
func PeekID(b []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	id, _ := v.ID.(string)
	if utf8.RuneCountInString(id) > MaxIDLen || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// DueTime returns dueAt parsed, and whether it was set and valid.
func (p *Push) DueTime() (time.Time, bool) {
	if p.DueAt == "" {
		return time.Time{}, false
	}
	return jsonfield.ParseTime(p.DueAt)
}

// Encode is the JSON of p as producers write it (the inverse of Decode for a valid push).
func Encode(p Push) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p) // a Push always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
