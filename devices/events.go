package devices

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Event is an SNS application event of the platform application (its attributes
// EventEndpointCreated, EventEndpointDeleted, EventEndpointUpdated and EventDeliveryFailure
// name a topic; the stack's device events topic feeds a queue this package's handler reads).
type Event struct {
	EventType      string            `json:"EventType"`
	EndpointArn    string            `json:"EndpointArn"`
	FailureType    string            `json:"FailureType,omitempty"`
	FailureMessage string            `json:"FailureMessage,omitempty"`
	Attributes     map[string]string `json:"Attributes,omitempty"`
	Time           string            `json:"Time,omitempty"`
}

// Event types SNS sends.
const (
	EventEndpointCreated = "EndpointCreated"
	EventEndpointDeleted = "EndpointDeleted"
	EventEndpointUpdated = "EndpointUpdated"
	EventDeliveryFailure = "DeliveryFailure"
)

var endpointARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:endpoint/[A-Z_]+/[^/]+/[A-Za-z0-9-]+$`)

// ParseEvent reads an event from a queue message body: the SNS notification envelope
// ({"Type":"Notification","Message":"..."}) or, with raw message delivery, the event itself.
func ParseEvent(body string) (Event, error) {
	var envelope struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	if err := json.Unmarshal([]byte(body), &envelope); err != nil {
		return Event{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if envelope.Type == "Notification" && envelope.Message != "" {
		body = envelope.Message
	}
	var e Event
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return Event{}, fmt.Errorf("not an SNS application event: %v", err)
	}
	switch {
	case e.EventType == "":
		return e, fmt.Errorf("not an SNS application event: no EventType")
	case !endpointARN.MatchString(e.EndpointArn):
		return e, fmt.Errorf("%s event without a platform endpoint ARN (EndpointArn %q)", e.EventType, e.EndpointArn)
	}
	return e, nil
}

// Handle applies an event to the registry and says what it did. An endpoint SNS disabled,
// deleted or failed to deliver to permanently marks its device disabled; the rest is noted.
func (r *Registry) Handle(ctx context.Context, e Event) (string, error) {
	reason := ""
	switch e.EventType {
	case EventDeliveryFailure:
		reason = strings.TrimPrefix(strings.Join([]string{"", e.FailureType, e.FailureMessage}, ": "), ": ")
		reason = "SNS reported a permanent delivery failure: " + reason
	case EventEndpointDeleted:
		reason = "the platform endpoint was deleted"
	case EventEndpointUpdated:
		if strings.EqualFold(e.Attributes["Enabled"], "false") {
			reason = "SNS disabled the platform endpoint (the platform reported the token invalid)"
		}
	}
	if reason == "" {
		return "ignored", nil
	}
	disabled, err := r.DisableEndpoint(ctx, e.EndpointArn, reason)
	switch {
	case err != nil:
		return "", err
	case !disabled:
		return "no device", nil
	}
	return "disabled", nil
}
