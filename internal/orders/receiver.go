// Package orders is the Shopify order path: the webhook receiver (verify, queue, answer 200 at
// once) and the orders consumer (save the order, then push the shop owner; privacy requests).
// The rules are in docs/CONTRACTS.md ("Shopify orders").
package orders

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/shopify"
)

// DefaultMaxBodyBytes is the largest webhook body queued: an SQS message holds 256 KiB, and
// the body travels as a JSON string inside the queued webhook.
const DefaultMaxBodyBytes = 200 << 10

// maxQueuedBytes is SQS's message size limit.
const maxQueuedBytes = 256 << 10

// SecretSource returns the app's client secrets: the current one first, and during a
// rotation the previous one.
type SecretSource interface {
	Secrets(ctx context.Context, refresh bool) ([][]byte, error)
}

// Queue puts a queued webhook on the orders queue.
type Queue interface {
	Send(ctx context.Context, body string) error
}

// Receiver answers Shopify's webhook requests (API Gateway HTTP API, payload format 2.0).
type Receiver struct {
	Secrets      SecretSource
	Queue        Queue
	MaxBodyBytes int // 0: DefaultMaxBodyBytes
	Now          func() time.Time
	Logger       *slog.Logger
}

// Handle verifies, queues and answers. It never parses the order; it never logs the body or
// the secret. 401: bad or missing signature; 413: body too large; 400: a signed request
// without the headers that say what it is; 200: queued, or a topic not handled (nothing done);
// 503: the secret or the queue could not be reached (Shopify retries).
func (r *Receiver) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	status, body := r.handle(ctx, req)
	raw, _ := json.Marshal(body)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: string(raw),
		Headers: map[string]string{"content-type": "application/json", "cache-control": "no-store"}}, nil
}

type problem struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func fail(status int, code, message string) (int, any) {
	var p problem
	p.Error.Code, p.Error.Message = code, message
	return status, p
}

func (r *Receiver) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (int, any) {
	log := r.logger().With("requestId", req.RequestContext.RequestID)
	limit := r.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return fail(http.StatusBadRequest, "invalid_request", "the body is not valid base64")
		}
	}
	if len(body) > limit {
		log.WarnContext(ctx, "webhook refused: body too large", "bytes", len(body), "limit", limit)
		return fail(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body is %d bytes, at most %d", len(body), limit))
	}
	h := headers(req.Headers)
	secrets, err := r.Secrets.Secrets(ctx, false)
	if err != nil {
		log.ErrorContext(ctx, "webhook not verified: the client secret is unavailable", "error", err.Error())
		return fail(http.StatusServiceUnavailable, "unavailable", "the webhook could not be verified now; Shopify will retry")
	}
	err = shopify.Verify(body, h[strings.ToLower(shopify.HeaderHmac)], secrets...)
	if errors.Is(err, shopify.ErrBadSignature) {
		// The secret may have been rotated since it was cached: read it again, once.
		if fresh, ferr := r.Secrets.Secrets(ctx, true); ferr == nil {
			err = shopify.Verify(body, h[strings.ToLower(shopify.HeaderHmac)], fresh...)
		}
	}
	if err != nil {
		log.WarnContext(ctx, "webhook refused: signature", "reason", err.Error(), "topic", h["x-shopify-topic"], "shop", h["x-shopify-shop-domain"])
		return fail(http.StatusUnauthorized, "unauthorized", err.Error())
	}
	if !utf8.Valid(body) {
		// Queued as a JSON string it would be silently altered; Shopify sends UTF-8 JSON.
		return fail(http.StatusBadRequest, "invalid_request", "the body is not valid UTF-8")
	}
	w := shopify.Webhook{
		Topic: h["x-shopify-topic"], ShopDomain: h["x-shopify-shop-domain"], WebhookID: h["x-shopify-webhook-id"],
		TriggeredAt: h["x-shopify-triggered-at"], APIVersion: h["x-shopify-api-version"], ReceivedAt: r.now(), Body: string(body),
	}
	log = log.With("topic", w.Topic, "shop", w.ShopDomain, "webhookId", w.WebhookID)
	switch {
	case w.Topic == "":
		return fail(http.StatusBadRequest, "invalid_request", "no X-Shopify-Topic header")
	case !shopify.Handled(w.Topic):
		log.InfoContext(ctx, "webhook topic not handled: nothing done")
		return http.StatusOK, map[string]string{"status": "ignored", "topic": w.Topic}
	case !shopify.ValidShopDomain(w.ShopDomain):
		return fail(http.StatusBadRequest, "invalid_request", fmt.Sprintf("X-Shopify-Shop-Domain %q is not a myshopify.com domain", w.ShopDomain))
	case w.WebhookID == "":
		return fail(http.StatusBadRequest, "invalid_request", "no X-Shopify-Webhook-Id header")
	}
	msg, err := json.Marshal(w)
	if err != nil || len(msg) > maxQueuedBytes {
		return fail(http.StatusRequestEntityTooLarge, "payload_too_large", "the body is too large to queue")
	}
	if err := r.Queue.Send(ctx, string(msg)); err != nil {
		log.ErrorContext(ctx, "webhook not queued", "error", err.Error())
		return fail(http.StatusServiceUnavailable, "unavailable", "the webhook could not be queued now; Shopify will retry")
	}
	log.InfoContext(ctx, "webhook queued", "bytes", len(body))
	return http.StatusOK, map[string]string{"status": "queued", "webhookId": w.WebhookID}
}

// headers lowercases header names (payload 2.0 already does; a test or a proxy may not).
func headers(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return out
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Receiver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// CachedSecrets reads the client secret through Fetch and keeps it for TTL. The secret's value
// is the client secret itself, or during a rotation a JSON object
// {"current": "...", "previous": "..."}: both are accepted until "previous" is removed.
type CachedSecrets struct {
	Fetch func(ctx context.Context) (string, error)
	TTL   time.Duration // 0: 5 minutes
	// MinRefresh is the least time between two reads forced by a signature that did not
	// match (so that forged requests cannot flood Secrets Manager). 0: 30 seconds.
	MinRefresh time.Duration
	Now        func() time.Time

	mu      sync.Mutex
	secrets [][]byte
	read    time.Time
}

func (c *CachedSecrets) Secrets(ctx context.Context, refresh bool) ([][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	ttl, minRefresh := c.TTL, c.MinRefresh
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	if minRefresh <= 0 {
		minRefresh = 30 * time.Second
	}
	age := now.Sub(c.read)
	if c.secrets != nil && age < ttl && (!refresh || age < minRefresh) {
		return c.secrets, nil
	}
	value, err := c.Fetch(ctx)
	if err != nil {
		if c.secrets != nil {
			return c.secrets, nil // keep verifying with what we have
		}
		return nil, err
	}
	secrets, err := ParseSecret(value)
	if err != nil {
		return nil, err
	}
	c.secrets, c.read = secrets, now
	return secrets, nil
}

// ParseSecret reads a secret's value: the client secret, or {"current": ..., "previous": ...}.
func ParseSecret(value string) ([][]byte, error) {
	v := strings.TrimSpace(value)
	if strings.HasPrefix(v, "{") {
		var s struct {
			Current  string `json:"current"`
			Previous string `json:"previous"`
		}
		if err := json.Unmarshal([]byte(v), &s); err != nil || s.Current == "" {
			return nil, errors.New(`the Shopify secret is a JSON object without a "current" string`)
		}
		out := [][]byte{[]byte(s.Current)}
		if s.Previous != "" {
			out = append(out, []byte(s.Previous))
		}
		return out, nil
	}
	if v == "" {
		return nil, errors.New("the Shopify secret is empty")
	}
	return [][]byte{[]byte(v)}, nil
}
