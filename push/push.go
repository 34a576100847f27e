// Package push is the push message every producer puts on the push queue, and the "push" of a
// scheduled push's execution input (docs/CONTRACTS.md): its fields, its strict decoding and
// its validation. Go backends import it to check a push before sending it; the sender, the
// client, the HTTP API and the CLI use the same rules, and the scheduler's state machine
// applies them too, so a push gets the same answer whichever way it comes in.
package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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
	// sender does when it cannot know whether an earlier attempt reached SNS (README,
	// "Delivery guarantees"). Absent means the stack's default.
	DeliveryAtLeastOnce = "at-least-once"
	DeliveryAtMostOnce  = "at-most-once"

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
}

// fields are the contract's fields, in the order they are checked.
var fields = []string{"v", "id", "userId", "endpointArn", "title", "body", "data", "ttlSeconds",
	"collapseKey", "priority", "dueAt", "delivery", "maxLatenessSeconds", "revision"}

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
	obj, err := DecodeObject(b)
	if err != nil {
		return Push{}, err
	}
	return fromObject(obj)
}

// Object is a JSON object decoded one level deep: its members, raw, and their names in the
// document's order.
type Object struct {
	Keys    []string
	Members map[string]json.RawMessage
}

// DecodeObject decodes b as exactly one JSON object. Malformed JSON, trailing data and
// anything but an object are *InvalidError for "$".
func DecodeObject(b []byte) (Object, error) {
	if !utf8.Valid(b) {
		// encoding/json would turn the bad bytes into U+FFFD without a word.
		return Object{}, invalid("$", "is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return Object{}, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Object{}, invalid("$", "must be a JSON object")
	}
	obj := Object{Members: map[string]json.RawMessage{}}
	obj, err = members(dec, obj)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the object was opened: its end is missing
		}
		return Object{}, jsonError(err)
	}
	// A second value (or garbage) after the object means the producer sent something other
	// than one push; accepting the first part would silently drop the rest.
	if _, err := dec.Token(); err != io.EOF {
		return Object{}, invalid("$", "trailing data after the JSON object")
	}
	return obj, nil
}

// members reads an object's members and its closing brace.
func members(dec *json.Decoder, obj Object) (Object, error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return obj, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return obj, err
		}
		if _, dup := obj.Members[name]; !dup {
			obj.Keys = append(obj.Keys, name)
		}
		obj.Members[name] = raw // the last one wins, as in JSON.parse
	}
	_, err := dec.Token() // the closing brace
	return obj, err
}

// jsonError maps encoding/json errors to "$" errors.
func jsonError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("$", "empty message")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("$", "malformed JSON: unexpected end of input")
	case errors.As(err, &syn):
		return invalid("$", "malformed JSON at offset %d: %s", syn.Offset, syn.Error())
	}
	return invalid("$", "malformed JSON: %v", err)
}

// Unknown returns the first member (in the document's order) not in known, or "".
func (o Object) Unknown(known []string) string {
	for _, k := range o.Keys {
		if !slices.Contains(known, k) {
			return k
		}
	}
	return ""
}

func fromObject(obj Object) (Push, error) {
	if k := obj.Unknown(fields); k != "" {
		return Push{}, invalid(k, "unknown field")
	}
	// First the types (and the rules of data's keys and the two fields whose 0 is not
	// absent), field by field in the contract's order; then the rules on the values.
	var p Push
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
		case "id":
			p.ID, err = str(name, raw)
		case "userId":
			p.UserID, err = str(name, raw)
		case "endpointArn":
			p.EndpointARN, err = str(name, raw)
		case "title":
			p.Title, err = str(name, raw)
		case "body":
			p.Body, err = str(name, raw)
		case "data":
			p.Data, err = stringMap(name, raw)
		case "ttlSeconds":
			var n int
			n, err = integer(name, raw)
			p.TTLSeconds = &n
		case "collapseKey":
			p.CollapseKey, err = str(name, raw)
		case "priority":
			p.Priority, err = str(name, raw)
		case "dueAt":
			p.DueAt, err = str(name, raw)
		case "delivery":
			p.Delivery, err = str(name, raw)
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

// str reads a JSON string; null is not a string (absent is the way to leave a field out).
func str(name string, raw json.RawMessage) (string, error) {
	return String(name, raw)
}

// String reads a string of the contract: a JSON string (null is not one) holding only
// characters SQS accepts in a message. field names it in the error.
func String(field string, raw json.RawMessage) (string, error) {
	var s string
	if string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
		return "", invalid(field, "must be a string")
	}
	if !sqsSafeLiteral(raw) {
		return "", invalid(field, "%s", sqsRefused)
	}
	return s, nil
}

// sqsRefused is the reason a string holding a character SQS refuses is invalid: the push
// would be accepted now and fail at SendMessage when due (the state machine's words too).
const sqsRefused = "holds a character SQS refuses (allowed: tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF)"

// sqsAllowed is SQS's set of message characters (#x9 | #xA | #xD | #x20-#xD7FF |
// #xE000-#xFFFD | #x10000-#x10FFFF).
func sqsAllowed(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= utf8.MaxRune)
}

// sqsSafeString reports whether s holds only characters SQS accepts (invalid UTF-8 is
// checked apart, with its own words).
func sqsSafeString(s string) bool {
	for _, r := range s {
		if !sqsAllowed(r) {
			return false
		}
	}
	return true
}

// sqsSafeLiteral reports whether the JSON string literal lit (with its quotes, already known
// to be valid JSON) holds only characters SQS accepts. It reads the escapes itself:
// encoding/json turns an unpaired surrogate escape ("\ud800") into U+FFFD without a word.
func sqsSafeLiteral(lit []byte) bool {
	if len(lit) < 2 {
		return false
	}
	for i, end := 1, len(lit)-1; i < end; {
		if lit[i] != '\\' {
			r, n := utf8.DecodeRune(lit[i:end])
			if (r == utf8.RuneError && n == 1) || !sqsAllowed(r) {
				return false
			}
			i += n
			continue
		}
		switch lit[i+1] {
		case 'b', 'f': // U+0008, U+000C
			return false
		case 'u':
			r := hex4(lit[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by a low one is a character.
				if r >= 0xDC00 || i+6 > end || lit[i] != '\\' || lit[i+1] != 'u' {
					return false
				}
				if low := hex4(lit[i+2 : i+6]); low < 0xDC00 || low > 0xDFFF {
					return false
				}
				i += 6
				continue
			}
			if !sqsAllowed(r) {
				return false
			}
		default: // \" \\ \/ \n \r \t
			i += 2
		}
	}
	return true
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b), 16, 32) // valid JSON: four hex digits
	return rune(n)
}

// integer reads a JSON number with an integral value (300, 300.0 and 3e2 are 300).
func integer(name string, raw json.RawMessage) (int, error) {
	n, ok := Integer(raw)
	if !ok {
		return 0, invalid(name, "must be an integer")
	}
	return int(n), nil
}

// MaxInteger bounds the integers of the contract: beyond 2^53, JSON parsers disagree.
const MaxInteger = 1 << 53

// Integer reads a JSON number with an integral value within ±2^53, as every JSON parser
// reads it the same.
func Integer(raw json.RawMessage) (int64, bool) {
	var f float64
	if string(raw) == "null" || json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || math.Abs(f) > MaxInteger {
		return 0, false
	}
	return int64(f), true
}

// stringMap reads data: an object of strings whose keys FCM accepts, checked key by key in
// the document's order.
func stringMap(name string, raw json.RawMessage) (map[string]string, error) {
	obj, err := DecodeObject(raw)
	if err != nil {
		return nil, invalid(name, "must be a JSON object of strings")
	}
	safe := sqsSafeKeys(raw)
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

// sqsSafeKeys tells, for each key of the JSON object raw (valid JSON), whether its literal
// holds only characters SQS accepts: the decoded key cannot tell (see sqsSafeLiteral).
func sqsSafeKeys(raw []byte) map[string]bool {
	safe := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return safe
	}
	for dec.More() {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return safe
		}
		k, _ := tok.(string)
		lit := bytes.TrimLeft(raw[from:dec.InputOffset()], ", \t\r\n")
		safe[k] = sqsSafeLiteral(lit) // a repeated key: the last one counts, as its value does
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return safe
		}
	}
	return safe
}

// rfc3339 is the form of every timestamp of the contract: what Step Functions and Go both read.
var rfc3339 = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

// ParseTime reads an RFC 3339 timestamp ("2026-12-01T09:00:00Z", with an optional fraction
// and a Z or a ±hh:mm offset), as the state machine does.
func ParseTime(s string) (time.Time, bool) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
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
	keys := make([]string, 0, len(p.Data))
	for k := range p.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := checkDataKey(k, utf8.ValidString(k) && sqsSafeString(k)); err != nil {
			return err
		}
	}
	if err := p.checkStrings(); err != nil {
		return err
	}
	return p.validateValues()
}

// checkStrings checks that every string of a Push built in Go is valid UTF-8 of characters
// SQS accepts (Decode checks them field by field as it reads them).
func (p *Push) checkStrings() error {
	fields := []struct{ name, value string }{
		{"id", p.ID}, {"userId", p.UserID}, {"endpointArn", p.EndpointARN}, {"title", p.Title}, {"body", p.Body},
	}
	keys := make([]string, 0, len(p.Data))
	for k := range p.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fields = append(fields, struct{ name, value string }{"data." + k, p.Data[k]})
	}
	fields = append(fields, []struct{ name, value string }{
		{"collapseKey", p.CollapseKey}, {"priority", p.Priority}, {"dueAt", p.DueAt}, {"delivery", p.Delivery},
	}...)
	for _, f := range fields {
		switch {
		case !utf8.ValidString(f.value):
			return invalid(f.name, "is not valid UTF-8")
		case !sqsSafeString(f.value):
			return invalid(f.name, "%s", sqsRefused)
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
		return invalid("priority", "must be %q or %q, got %s", PriorityHigh, PriorityNormal, Quote(p.Priority))
	case p.Delivery != "" && p.Delivery != DeliveryAtLeastOnce && p.Delivery != DeliveryAtMostOnce:
		return invalid("delivery", "must be %q or %q, got %s", DeliveryAtLeastOnce, DeliveryAtMostOnce, Quote(p.Delivery))
	}
	if p.DueAt != "" {
		if _, ok := ParseTime(p.DueAt); !ok {
			return invalid("dueAt", "is not an RFC 3339 time: %s", Quote(p.DueAt))
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

func checkRevision(n int) error {
	if n < 1 {
		return invalid("revision", "must be 1 or more, got %d", n)
	}
	return nil
}

// Quote writes s as a JSON string, as the state machine's causes quote a value, so an error
// reads the same from Go and from Step Functions.
func Quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
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
		return invalid("data", "has a key that %s", sqsRefused)
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
	return ParseTime(p.DueAt)
}

// Encode is the JSON of p as producers write it (the inverse of Decode for a valid push).
func Encode(p Push) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p) // a Push always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
