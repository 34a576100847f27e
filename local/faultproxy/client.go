package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client drives a Proxy's admin API.
type Client struct {
	URL string // the proxy's base URL
}

// Add installs rule and returns it with its ID.
func (c Client) Add(ctx context.Context, rule Rule) (Rule, error) {
	body, _ := json.Marshal(rule)
	var out Rule
	err := c.do(ctx, http.MethodPost, "/_faults", body, &out)
	return out, err
}

// Remove removes the rule with id ("all": every rule).
func (c Client) Remove(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/_faults/"+id, nil, nil)
}

// Rules returns the installed rules with their hit counts.
func (c Client) Rules(ctx context.Context) ([]Rule, error) {
	var out []Rule
	err := c.do(ctx, http.MethodGet, "/_faults", nil, &out)
	return out, err
}

// Stats returns the per-operation statistics, by "service.Operation".
func (c Client) Stats(ctx context.Context) (map[string]OpStats, error) {
	out := map[string]OpStats{}
	err := c.do(ctx, http.MethodGet, "/_stats", nil, &out)
	return out, err
}

// ResetStats clears the statistics.
func (c Client) ResetStats(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/_stats", nil, nil)
}

func (c Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fault proxy: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("fault proxy: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
