// Package fcm turns a push into the message of an SNS Publish with MessageStructure=json whose
// "GCM" value is an FCM HTTP v1 message.
//
// Payload shape (top-level "fcmV1Message", the GCM value encoded as a string):
// https://docs.aws.amazon.com/sns/latest/dg/sns-fcm-v1-payloads.html
// Field reference (AndroidConfig: ttl as a Duration string "<n>s", collapse_key, priority enum
// AndroidMessagePriority NORMAL | HIGH):
// https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
// 4096-byte payload limit:
// https://firebase.google.com/docs/cloud-messaging/customize-messages/set-message-type
package fcm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/delayed-push/delayed-push/push"
)

// MaxPayloadBytes is FCM's limit for a message payload.
const MaxPayloadBytes = 4096

// TooLargeError reports a message over MaxPayloadBytes and names the largest field, the one
// the producer most likely has to shorten.
type TooLargeError struct {
	Size      int    // bytes of the FCM message
	Limit     int    // MaxPayloadBytes
	Field     string // largest of "title", "body", "data"
	FieldSize int    // its encoded size in bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("oversize payload: FCM message is %d bytes, limit %d (largest field %s: %d bytes)",
		e.Size, e.Limit, e.Field, e.FieldSize)
}

// The structs fix the field order so the output is deterministic (map keys in data are sorted
// by encoding/json).
type envelope struct {
	GCM string `json:"GCM"`
}

type message struct {
	Notification *notification     `json:"notification,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Android      *android          `json:"android,omitempty"`
}

type notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type android struct {
	Priority     string               `json:"priority,omitempty"`
	TTL          string               `json:"ttl,omitempty"`
	CollapseKey  string               `json:"collapse_key,omitempty"`
	Notification *androidNotification `json:"notification,omitempty"`
}

type androidNotification struct {
	Tag string `json:"tag,omitempty"`
}

// BuildMessage returns the SNS message for p (assumed valid, see push.Validate) sent under
// pushID, or a *TooLargeError when the FCM message exceeds MaxPayloadBytes.
//
// The push id goes into data (push.DataKeyPushID) so that an app can drop a repeat, and into
// the Android notification tag, so that a repeat replaces the notification already shown
// instead of showing a second one (docs/CONTRACTS.md, "Delivery guarantees").
func BuildMessage(p push.Push, pushID string) (string, error) {
	m := message{Data: make(map[string]string, len(p.Data)+1)}
	for k, v := range p.Data {
		m.Data[k] = v
	}
	m.Data[push.DataKeyPushID] = pushID
	a := android{CollapseKey: p.CollapseKey}
	if p.Title != "" || p.Body != "" {
		m.Notification = &notification{Title: p.Title, Body: p.Body}
		a.Notification = &androidNotification{Tag: pushID}
	}
	switch p.Priority {
	case push.PriorityHigh:
		a.Priority = "HIGH"
	case push.PriorityNormal:
		a.Priority = "NORMAL"
	}
	if p.TTLSeconds != nil {
		a.TTL = strconv.Itoa(*p.TTLSeconds) + "s"
	}
	if a != (android{}) {
		m.Android = &a
	}

	msg, err := marshal(m)
	if err != nil {
		return "", err
	}
	// The whole FCM message is measured, which is slightly stricter than FCM's own count:
	// a push we accept is never rejected by FCM for size.
	if len(msg) > MaxPayloadBytes {
		return "", tooLarge(len(msg), p)
	}
	// Equivalent to marshalling {"fcmV1Message":{"message":m}}, without encoding m twice.
	inner := make([]byte, 0, len(msg)+32)
	inner = append(inner, `{"fcmV1Message":{"message":`...)
	inner = append(inner, msg...)
	inner = append(inner, "}}"...)
	out, err := marshal(envelope{GCM: string(inner)})
	if err != nil {
		return "", err
	}
	return string(out), nil
}

func tooLarge(size int, p push.Push) *TooLargeError {
	e := &TooLargeError{Size: size, Limit: MaxPayloadBytes}
	for _, f := range []struct {
		name string
		v    any
	}{{"title", p.Title}, {"body", p.Body}, {"data", p.Data}} {
		b, _ := marshal(f.v)
		if len(b) > e.FieldSize {
			e.Field, e.FieldSize = f.name, len(b)
		}
	}
	return e
}

// marshal is json.Marshal without HTML escaping (which would inflate <, > and & sixfold and
// count against the size limit) and without the encoder's trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
