// Package motoapi reads what the moto emulator recorded and no AWS API returns: the messages
// published to SNS platform endpoints (a device's inbox, in a local run).
package motoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
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

// dataJSON is the part of GET /moto-api/data.json this package reads.
type dataJSON struct {
	SNS struct {
		PlatformEndpoint []struct {
			Arn      string                     `json:"arn"`
			Messages map[string]json.RawMessage `json:"messages"`
		} `json:"PlatformEndpoint"`
	} `json:"sns"`
}

// Deliveries returns every message published to a platform endpoint, by endpoint ARN, in
// message id order. moto keeps them on the endpoint (moto/sns/models.py PlatformEndpoint.publish).
func Deliveries(ctx context.Context, endpoint string) (map[string][]Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+"/moto-api/data.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("moto data.json: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("moto data.json: HTTP %s (without Docker it needs the stub scripts/moto-up.sh starts)", resp.Status)
	}
	var data dataJSON
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return nil, fmt.Errorf("moto data.json: %w", err)
	}
	out := map[string][]Delivery{}
	for _, ep := range data.SNS.PlatformEndpoint {
		ids := slices.Sorted(maps.Keys(ep.Messages))
		for _, id := range ids {
			d := Delivery{EndpointArn: ep.Arn, MessageID: id}
			if err := json.Unmarshal(ep.Messages[id], &d.Message); err != nil {
				return nil, fmt.Errorf("moto data.json: message %s of %s: not a string: %s", id, ep.Arn, ep.Messages[id])
			}
			out[ep.Arn] = append(out[ep.Arn], d)
		}
	}
	return out, nil
}
