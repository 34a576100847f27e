// Package orders is the Shopify order path: the webhook receiver (verify, queue, answer 200 at
// once) and the orders consumer (save the order, then push the shop owner; privacy requests).
// The rules are in docs/CONTRACTS.md ("Shopify orders").
package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/delayed-push/delayed-push/internal/requestbody"
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

// Freshness window of a webhook (Receiver.MaxAge). Shopify retries a failed delivery "a total
// of 8 times over 4 hours using an exponential backoff schedule" (developer changelog,
// "Updates to webhook retry mechanism", 2024-09-10): a window under 5 hours would refuse
// Shopify's own last retries.
const (
	DefaultMaxAge = 24 * time.Hour
	MinMaxAge     = 5 * time.Hour
	MaxMaxAge     = 7 * 24 * time.Hour
	// ClockSkew is how far in the future a timestamp may be (Shopify's clock and Lambda's).
	ClockSkew = 5 * time.Minute
)

// Delivery is the record of one webhook id in the webhooks table.
type Delivery struct {
	WebhookID   string
	EventID     string // X-Shopify-Event-Id, when sent
	Topic       string
	ShopDomain  string
	BodySHA256  string // hex SHA-256 of the raw body
	TriggeredAt time.Time
	ReceivedAt  time.Time
	// ExpiresAt is when the table's TTL may delete the record: after the freshness window,
	// when a replay of the webhook is refused as stale anyway.
	ExpiresAt time.Time
	// Queued is set once the webhook is on the orders queue.
	Queued bool
}

// Deliveries is the webhooks table: one record per X-Shopify-Webhook-Id, written by the
// receiver with a conditional put.
type Deliveries interface {
	// Claim records d as received, unless its webhook id is taken: queued before, or held by
	// another topic, shop or body. Then it returns the record found and claimed is false. A
	// record still "received" (never queued) for the same topic, shop and body is claimed
	// again: that is Shopify's retry of a delivery this receiver failed to queue.
	Claim(ctx context.Context, d Delivery) (claimed bool, existing Delivery, err error)
	// MarkQueued records that the webhook is on the orders queue: from then on its id is a
	// duplicate.
	MarkQueued(ctx context.Context, webhookID string, now time.Time) error
}

// Receiver answers Shopify's webhook requests (API Gateway HTTP API, payload format 2.0).
type Receiver struct {
	Secrets SecretSource
	Queue   Queue
	// Seen de-duplicates webhook ids (the webhooks table). Required in production; nil only
	// where a test does not look at duplicates.
	Seen         Deliveries
	MaxBodyBytes int           // 0: DefaultMaxBodyBytes
	MaxAge       time.Duration // 0: DefaultMaxAge
	Now          func() time.Time
	Logger       *slog.Logger
}

// Handle verifies, checks, records, queues and answers. It reads only the body's shop and
// time fields (ReadBodyFacts), never the customer; it never logs the body or the secret.
//   - 401: bad or missing signature; 413: body too large;
//   - 400 invalid_request: a signed request without the headers that say what it is, with a
//     garbage webhook id, event id or X-Shopify-Triggered-At, a time in the future, or a body
//     that is not what Shopify sends for its topic;
//   - 400 shop_mismatch: X-Shopify-Shop-Domain is not the shop the signed body names;
//   - 400 stale: X-Shopify-Triggered-At or the signed body's own time is older than MaxAge;
//   - 200 ignored: a topic not handled (nothing done); 200 duplicate: the webhook id was
//     queued before (nothing done); 200 queued;
//   - 503: the secret, the webhooks table or the queue could not be reached (Shopify retries).
//
// Nothing refused reaches the queue or the table.
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
	// The Content-Type is not checked: the signature, not a header, says the body is Shopify's.
	body, bad := requestbody.Read(req, limit)
	if bad != nil {
		log.WarnContext(ctx, "webhook refused: body", "code", bad.Code, "reason", bad.Message)
		return fail(bad.Status, bad.Code, bad.Message)
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
		log.WarnContext(ctx, "webhook refused: signature", "reason", err.Error(), "topic", shorten(h["x-shopify-topic"]), "shop", shorten(h["x-shopify-shop-domain"]))
		return fail(http.StatusUnauthorized, "unauthorized", err.Error())
	}
	if !utf8.Valid(body) {
		// Queued as a JSON string it would be silently altered; Shopify sends UTF-8 JSON.
		return fail(http.StatusBadRequest, "invalid_request", "the body is not valid UTF-8")
	}
	now := r.now()
	w := shopify.Webhook{
		Topic: h["x-shopify-topic"], ShopDomain: h["x-shopify-shop-domain"], WebhookID: h["x-shopify-webhook-id"],
		TriggeredAt: h["x-shopify-triggered-at"], APIVersion: h["x-shopify-api-version"], ReceivedAt: now, Body: string(body),
	}
	eventID, hasEventID := h[strings.ToLower(shopify.HeaderEventID)]
	log = log.With("topic", shorten(w.Topic), "shop", shorten(w.ShopDomain), "webhookId", shorten(w.WebhookID))
	if hasEventID {
		log = log.With("eventId", shorten(eventID))
	}
	switch {
	case w.Topic == "":
		return fail(http.StatusBadRequest, "invalid_request", "no X-Shopify-Topic header")
	case !shopify.Handled(w.Topic):
		log.InfoContext(ctx, "webhook topic not handled: nothing done")
		return http.StatusOK, map[string]string{"status": "ignored", "topic": w.Topic}
	case !shopify.ValidShopDomain(w.ShopDomain):
		return r.refuse(ctx, log, w, "invalid_request", fmt.Sprintf("X-Shopify-Shop-Domain %q is not a myshopify.com domain", w.ShopDomain))
	case w.WebhookID == "":
		return r.refuse(ctx, log, w, "invalid_request", "no X-Shopify-Webhook-Id header")
	case !shopify.ValidID(w.WebhookID):
		return r.refuse(ctx, log, w, "invalid_request", fmt.Sprintf("X-Shopify-Webhook-Id is not an id (1 to %d printable characters)", shopify.MaxIDLength))
	case hasEventID && !shopify.ValidID(eventID):
		return r.refuse(ctx, log, w, "invalid_request", fmt.Sprintf("X-Shopify-Event-Id is not an id (1 to %d printable characters)", shopify.MaxIDLength))
	case w.TriggeredAt == "":
		// Every delivery carries it (Shopify's "Webhooks delivery structure").
		return r.refuse(ctx, log, w, "invalid_request", "no X-Shopify-Triggered-At header")
	}
	triggered, err := shopify.ParseTime(w.TriggeredAt)
	if err != nil {
		return r.refuse(ctx, log, w, "invalid_request", "X-Shopify-Triggered-At: "+err.Error())
	}
	facts, err := shopify.ReadBodyFacts(w.Topic, body)
	if err != nil {
		return r.refuse(ctx, log, w, "invalid_request", err.Error())
	}
	// Which shop: the header is not signed. Where the signed body names the shop, the header
	// must be that shop, so that a body captured from one shop cannot be replayed as another's
	// (its owner would be pushed the other shop's customer and total). An order of a shop
	// whose status page is on its own domain names no myshopify.com domain: then the header is
	// all there is (docs/shopify.md, "What remains").
	if facts.Shop != "" && facts.Shop != w.ShopDomain {
		return r.refuse(ctx, log, w, "shop_mismatch", fmt.Sprintf("X-Shopify-Shop-Domain %q is not the shop the signed body names (%q)", w.ShopDomain, facts.Shop))
	}
	if facts.Shop == "" {
		log = log.With("shopUnverified", true)
		if facts.OtherHost != "" {
			log = log.With("bodyHost", shorten(facts.OtherHost))
		}
	}
	// How old: the signed body's own time where it has one (an order's updated_at or
	// created_at: a replay cannot make it younger), and X-Shopify-Triggered-At always (not
	// signed: it stops a replay that keeps Shopify's headers, not one that rewrites them; for
	// the privacy topics, whose payloads carry no time, it is the only clock).
	maxAge := r.maxAge()
	for _, c := range []struct {
		what string
		t    time.Time
		has  bool // not IsZero: a hostile "0001-01-01T00:00:00Z" is a time too
	}{{"X-Shopify-Triggered-At", triggered, true}, {"the body's " + facts.TimeField, facts.Time, facts.TimeField != ""}} {
		if !c.has {
			continue
		}
		if c.t.After(now.Add(ClockSkew)) {
			return r.refuse(ctx, log, w, "invalid_request", fmt.Sprintf("%s (%s) is in the future", c.what, c.t.Format(time.RFC3339)))
		}
		if age := now.Sub(c.t); age > maxAge {
			return r.refuse(ctx, log, w, "stale", fmt.Sprintf("%s (%s) is %s old, more than %s: a replay, not Shopify's delivery or retry", c.what,
				c.t.Format(time.RFC3339), age.Round(time.Second), maxAge))
		}
	}
	msg, err := json.Marshal(w)
	if err != nil || len(msg) > maxQueuedBytes {
		return fail(http.StatusRequestEntityTooLarge, "payload_too_large", "the body is too large to queue")
	}
	// Once per webhook id. The receiver records the id, not the consumer: a replay is refused
	// before it costs a queued message and a consumer run, and the answer tells Shopify (and
	// the log) what happened. It records it in two steps so that no webhook is lost: the claim
	// ("received") before queueing, the mark ("queued") after. If the queue refuses, or this
	// function dies between the claim and the mark, the record stays "received", Shopify
	// retries the same delivery (same webhook id, same body: 503 and time-outs are retried)
	// and the retry claims the id again and queues it; at worst the webhook is queued twice,
	// which the consumer absorbs (one order row and one push per shop and order id; so does
	// it a retry that came under a new id, or a second subscription's delivery). Only a
	// "queued" record, or a record of another topic, shop or body under the same id, makes a
	// request a duplicate. The table is read and written only after the signature, the headers
	// and the freshness checks: forged requests never touch it.
	hash := sha256.Sum256(body)
	if r.Seen != nil {
		claimed, old, err := r.Seen.Claim(ctx, Delivery{WebhookID: w.WebhookID, EventID: eventID, Topic: w.Topic, ShopDomain: w.ShopDomain,
			BodySHA256: hex.EncodeToString(hash[:]), TriggeredAt: triggered, ReceivedAt: now, ExpiresAt: now.Add(maxAge + time.Hour)})
		if err != nil {
			log.ErrorContext(ctx, "webhook not recorded", "error", err.Error())
			return fail(http.StatusServiceUnavailable, "unavailable", "the webhook could not be recorded now; Shopify will retry")
		}
		if !claimed {
			same := old.Topic == w.Topic && old.ShopDomain == w.ShopDomain && old.BodySHA256 == hex.EncodeToString(hash[:])
			log.WarnContext(ctx, "webhook refused: duplicate webhook id, nothing done", "firstReceivedAt", old.ReceivedAt.Format(time.RFC3339Nano),
				"queuedBefore", old.Queued, "sameContent", same)
			return http.StatusOK, map[string]string{"status": "duplicate", "webhookId": w.WebhookID}
		}
	}
	if err := r.Queue.Send(ctx, string(msg)); err != nil {
		log.ErrorContext(ctx, "webhook not queued", "error", err.Error())
		return fail(http.StatusServiceUnavailable, "unavailable", "the webhook could not be queued now; Shopify will retry")
	}
	if r.Seen != nil {
		if err := r.Seen.MarkQueued(ctx, w.WebhookID, now); err != nil {
			// Queued all the same: a repeat of this id may be queued again, and the consumer
			// absorbs it.
			log.WarnContext(ctx, "webhook queued, but not marked queued", "error", err.Error())
		}
	}
	log.InfoContext(ctx, "webhook queued", "bytes", len(body))
	return http.StatusOK, map[string]string{"status": "queued", "webhookId": w.WebhookID}
}

// refuse answers 400 with code and logs why (log carries the headers that say what the
// request claims to be; never the body).
func (r *Receiver) refuse(ctx context.Context, log *slog.Logger, w shopify.Webhook, code, message string) (int, any) {
	log.WarnContext(ctx, "webhook refused", "code", code, "reason", shorten(message), "triggeredAt", shorten(w.TriggeredAt))
	return fail(http.StatusBadRequest, code, message)
}

// shorten keeps a hostile header from filling the log.
func shorten(s string) string {
	if len(s) <= 300 {
		return s
	}
	return strings.ToValidUTF8(s[:300], "") + "..."
}

func (r *Receiver) maxAge() time.Duration {
	if r.MaxAge > 0 {
		return r.MaxAge
	}
	return DefaultMaxAge
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
