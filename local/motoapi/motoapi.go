// Package motoapi is the one home of the emulator's own HTTP API, beside the AWS APIs it
// emulates: its configuration and reset (moto's /moto-api), and what it recorded and no AWS
// API returns, the messages published to SNS platform endpoints (a device's inbox, in a local
// run), through the read-only routes local/scripts/moto_server.py adds, whose cost does not
// grow with the messages published before (moto's own /moto-api/data.json dumps the whole
// emulator).
package motoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Delivery is one message SNS accepted for a platform endpoint.
type Delivery struct {
	EndpointArn string
	MessageID   string
	// Message is the published document as given to Publish (MessageStructure json: the
	// per-platform map, e.g. {"GCM": "<FCM v1 JSON>"}).
	Message string
}

// GCM returns the FCM part of a MessageStructure=json publish, parsed.
func (d Delivery) GCM() (map[string]any, error) {
	var doc map[string]string
	if err := json.Unmarshal([]byte(d.Message), &doc); err != nil {
		return nil, fmt.Errorf("message is not a per-platform JSON document: %w", err)
	}
	raw, ok := doc["GCM"]
	if !ok {
		return nil, fmt.Errorf("message has no GCM key")
	}
	var gcm map[string]any
	if err := json.Unmarshal([]byte(raw), &gcm); err != nil {
		return nil, fmt.Errorf("GCM value is not JSON: %w", err)
	}
	return gcm, nil
}

// PushID is the push id the sender put in the FCM message's data, or "".
func (d Delivery) PushID() string {
	gcm, err := d.GCM()
	if err != nil {
		return ""
	}
	v1, _ := gcm["fcmV1Message"].(map[string]any)
	msg, _ := v1["message"].(map[string]any)
	data, _ := msg["data"].(map[string]any)
	id, _ := data["pushId"].(string)
	return id
}

// EndpointMessages returns the messages published to one platform endpoint, in publish
// order, skipping the first `after`, and how many there are in all.
func EndpointMessages(ctx context.Context, endpoint, arn string, after int) (int, []Delivery, error) {
	var doc struct {
		Total    int `json:"total"`
		Messages []struct {
			MessageID string `json:"messageId"`
			Message   string `json:"message"`
		} `json:"messages"`
	}
	q := url.Values{"arn": {arn}, "after": {strconv.Itoa(after)}}
	if err := get(ctx, endpoint, "/_delayed-push/sns/endpoint-messages?"+q.Encode(), &doc); err != nil {
		return 0, nil, err
	}
	out := make([]Delivery, len(doc.Messages))
	for i, m := range doc.Messages {
		out[i] = Delivery{EndpointArn: arn, MessageID: m.MessageID, Message: m.Message}
	}
	return doc.Total, out, nil
}

// MessageCounts returns how many messages every platform endpoint has received, and the sum.
func MessageCounts(ctx context.Context, endpoint string) (int, map[string]int, error) {
	var doc struct {
		Total     int            `json:"total"`
		Endpoints map[string]int `json:"endpoints"`
	}
	err := get(ctx, endpoint, "/_delayed-push/sns/endpoint-message-counts", &doc)
	return doc.Total, doc.Endpoints, err
}

// EnableStateMachineExecution turns on moto's real ASL interpreter (moto config
// stepfunctions.execute_state_machine). Without it moto's executions never run their states.
func EnableStateMachineExecution(ctx context.Context, endpoint string) error {
	return call(ctx, http.MethodPost, endpoint, "/moto-api/config", `{"stepfunctions": {"execute_state_machine": true}}`, nil)
}

// Reset drops every resource in the emulator. The configuration is kept.
func Reset(ctx context.Context, endpoint string) error {
	return call(ctx, http.MethodPost, endpoint, "/moto-api/reset", "", nil)
}

func get(ctx context.Context, endpoint, path string, out any) error {
	return call(ctx, http.MethodGet, endpoint, path, "", out)
}

// call makes one request to the emulator's own API and decodes a JSON answer into out.
func call(ctx context.Context, method, endpoint, path, body string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(endpoint, "/")+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("moto %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("moto %s: HTTP %s: %s (is moto started by local/scripts/moto_server.py?)", path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}
