// Package push defines the push message that every producer puts on the push queue (see
// docs/CONTRACTS.md) and the strict decoding and validation the sender applies to it.
package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Contract limits (docs/CONTRACTS.md).
const (
	// Version is the only contract version; "v" may be omitted.
	Version = 1
	// MaxIDLen is the longest push id accepted.
	MaxIDLen = 256
	// MaxTTLSeconds is FCM's maximum time to live, 28 days.
	MaxTTLSeconds = 2419200

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
}

// InvalidError says which field of a push (or schedule input) is wrong and why. Field is a JSON
// path such as "ttlSeconds" or "push.title"; "$" means the document as a whole.
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

// Decode parses and validates one push. Unknown fields, trailing data and every contract
// violation are rejected with an *InvalidError naming the field.
func Decode(b []byte) (Push, error) {
	var p Push
	if err := DecodeStrict(b, &p); err != nil {
		return Push{}, err
	}
	if err := p.Validate(); err != nil {
		return Push{}, err
	}
	return p, nil
}

// DecodeStrict decodes one JSON value into v, rejecting unknown fields and trailing data, and
// turns encoding/json's errors into *InvalidError. Exported for the schedule input, which
// follows the same rules.
func DecodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// A second value (or garbage) after the object means the producer sent something other
	// than one push; accepting the first part would silently drop the rest.
	if _, err := dec.Token(); err != io.EOF {
		return invalid("$", "trailing data after the JSON object")
	}
	return nil
}

// jsonError maps encoding/json errors to field-named errors.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("$", "empty message")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("$", "malformed JSON: unexpected end of input")
	case errors.As(err, &syn):
		return invalid("$", "malformed JSON at offset %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "$"
		}
		return invalid(field, "must be %s, got JSON %s", typ.Type, typ.Value)
	}
	// encoding/json has no typed error for unknown fields; its message is stable:
	// `json: unknown field "name"`.
	if msg := err.Error(); strings.Contains(msg, "unknown field ") {
		name := msg[strings.Index(msg, "unknown field ")+len("unknown field "):]
		return invalid(strings.Trim(name, `"`), "unknown field")
	}
	return invalid("$", "malformed JSON: %v", err)
}

// Validate checks the contract rules that JSON decoding cannot.
func (p *Push) Validate() error {
	switch {
	case p.V != 0 && p.V != Version:
		return invalid("v", "unsupported version %d (want %d or absent)", p.V, Version)
	case len(p.ID) > MaxIDLen:
		return invalid("id", "is %d bytes, at most %d", len(p.ID), MaxIDLen)
	case !utf8.ValidString(p.ID):
		return invalid("id", "is not valid UTF-8")
	case p.UserID == "" && p.EndpointARN == "":
		return invalid("userId", "missing recipient: exactly one of userId and endpointArn is required")
	case p.UserID != "" && p.EndpointARN != "":
		return invalid("endpointArn", "both userId and endpointArn given: exactly one is allowed")
	case p.EndpointARN != "" && !strings.HasPrefix(p.EndpointARN, "arn:"):
		return invalid("endpointArn", "is not an ARN")
	case p.Title == "" && p.Body == "":
		return invalid("title", "title and body are both empty: at least one is required")
	case p.Priority != "" && p.Priority != PriorityHigh && p.Priority != PriorityNormal:
		return invalid("priority", "must be %q or %q, got %q", PriorityHigh, PriorityNormal, p.Priority)
	case p.TTLSeconds != nil && (*p.TTLSeconds < 0 || *p.TTLSeconds > MaxTTLSeconds):
		return invalid("ttlSeconds", "must be 0..%d, got %d", MaxTTLSeconds, *p.TTLSeconds)
	case p.Delivery != "" && p.Delivery != DeliveryAtLeastOnce && p.Delivery != DeliveryAtMostOnce:
		return invalid("delivery", "must be %q or %q, got %q", DeliveryAtLeastOnce, DeliveryAtMostOnce, p.Delivery)
	}
	if p.DueAt != "" {
		if _, err := time.Parse(time.RFC3339, p.DueAt); err != nil {
			return invalid("dueAt", "is not an RFC 3339 time: %q", p.DueAt)
		}
	}
	for k := range p.Data {
		if err := checkDataKey(k); err != nil {
			return err
		}
	}
	return nil
}

// checkDataKey rejects data keys FCM refuses ("from", "message_type", "google." and "gcm."
// prefixes), so the push fails here with a named field instead of as an opaque
// InvalidParameter from SNS. "notification" is allowed: FCM accepts it in practice.
func checkDataKey(k string) error {
	lower := strings.ToLower(k)
	switch {
	case k == "":
		return invalid("data", "empty key")
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
	if len(id) > MaxIDLen || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// DueTime returns dueAt parsed, and whether it was set and valid.
func (p *Push) DueTime() (time.Time, bool) {
	if p.DueAt == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, p.DueAt)
	return t, err == nil
}

// Encode is the JSON of p as producers write it (the inverse of Decode for a valid push).
func Encode(p Push) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p) // a Push always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
