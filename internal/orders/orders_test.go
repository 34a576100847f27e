package orders_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/shopify"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

type staticSecrets struct {
	secrets [][]byte
	fresh   [][]byte // what a refresh reads
	err     error
	reads   int
}

func (s *staticSecrets) Secrets(_ context.Context, refresh bool) ([][]byte, error) {
	s.reads++
	if refresh && s.fresh != nil {
		return s.fresh, nil
	}
	return s.secrets, s.err
}

type fakeQueue struct {
	bodies []string
	err    error
}

func (q *fakeQueue) Send(_ context.Context, body string) error {
	if q.err != nil {
		return q.err
	}
	q.bodies = append(q.bodies, body)
	return nil
}

// memDeliveries is the webhooks table as the adapter keeps it (internal/awsadapters tests it
// on the in-memory DynamoDB).
type memDeliveries struct {
	mu       sync.Mutex
	byID     map[string]orders.Delivery
	claimErr error
	markErr  error
	claims   int
}

func newDeliveries() *memDeliveries { return &memDeliveries{byID: map[string]orders.Delivery{}} }

func (m *memDeliveries) Claim(_ context.Context, d orders.Delivery) (bool, orders.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claimErr != nil {
		return false, orders.Delivery{}, m.claimErr
	}
	m.claims++
	old, ok := m.byID[d.WebhookID]
	if ok && (old.Queued || old.Topic != d.Topic || old.ShopDomain != d.ShopDomain || old.BodySHA256 != d.BodySHA256) {
		return false, old, nil
	}
	m.byID[d.WebhookID] = d
	return true, d, nil
}

func (m *memDeliveries) MarkQueued(_ context.Context, id string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.markErr != nil {
		return m.markErr
	}
	d := m.byID[id]
	d.Queued = true
	m.byID[id] = d
	return nil
}

// newReceiver is a receiver at t0 with the secret "hush", a queue and a webhooks table.
func newReceiver(q orders.Queue, seen orders.Deliveries) *orders.Receiver {
	return &orders.Receiver{Secrets: &staticSecrets{secrets: [][]byte{[]byte("hush")}}, Queue: q, Seen: seen, Now: func() time.Time { return t0 }}
}

// webhookRequest is a delivery as Shopify sends it at t0 (triggered 1 s before), signed with
// secret ("" unsigned); hdr overrides headers ("" removes one).
func webhookRequest(body []byte, secret string, hdr map[string]string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{
		"x-shopify-topic": "orders/create", "x-shopify-shop-domain": "jsmith.myshopify.com",
		"x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "x-shopify-triggered-at": t0.Add(-time.Second).Format(time.RFC3339Nano),
		"x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5", "x-shopify-api-version": "2026-10",
	}
	if secret != "" {
		h["x-shopify-hmac-sha256"] = shopify.Sign(body, []byte(secret))
	}
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /shopify/webhooks", Body: string(body), Headers: h,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r-1"}}
}

// orderBody is Shopify's example orders/create payload (shop jsmith), created and updated
// 5 minutes before t0.
func orderBody(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../shopify/testdata/orders_create.json")
	require.NoError(t, err)
	at := t0.Add(-5 * time.Minute).In(time.FixedZone("", -5*3600)).Format(time.RFC3339)
	b = bytes.ReplaceAll(b, []byte(`"2026-11-24T05:10:03-05:00"`), []byte(`"`+at+`"`))
	return b
}

func TestReceiverQueuesAVerifiedWebhookRawAndAnswers200(t *testing.T) {
	q := &fakeQueue{}
	var logs bytes.Buffer
	seen := newDeliveries()
	r := newReceiver(q, seen)
	r.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	body := orderBody(t)
	resp, err := r.Handle(context.Background(), webhookRequest(body, "hush", nil))
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode, resp.Body)
	require.Len(t, q.bodies, 1)
	w, err := shopify.DecodeWebhook([]byte(q.bodies[0]))
	require.NoError(t, err)
	assert.Equal(t, shopify.Webhook{Topic: "orders/create", ShopDomain: "jsmith.myshopify.com", WebhookID: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
		TriggeredAt: t0.Add(-time.Second).Format(time.RFC3339Nano), APIVersion: "2026-10", ReceivedAt: t0, Body: string(body)}, w, "the body byte for byte, unparsed")
	assert.NotContains(t, logs.String(), "jon@example.com", "no body in the logs")
	assert.NotContains(t, logs.String(), "hush", "no secret in the logs")
	rec := seen.byID["b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"]
	assert.True(t, rec.Queued, "recorded, then marked queued")
	assert.Equal(t, "98880550-7158-44d4-b7cd-2c97c8a091b5", rec.EventID)
	assert.Equal(t, t0.Add(25*time.Hour), rec.ExpiresAt, "kept an hour past the freshness window")
	assert.Len(t, rec.BodySHA256, 64)

	// Base64 bodies (API Gateway encodes binary ones) are verified on their bytes.
	req := webhookRequest(body, "hush", map[string]string{"x-shopify-webhook-id": "wh-base64"})
	req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	resp, _ = r.Handle(context.Background(), req)
	assert.Equal(t, 200, resp.StatusCode, resp.Body)
	assert.Len(t, q.bodies, 2)
}

func TestReceiverRefusesWhatIsNotShopifysAndKeepsNothing(t *testing.T) {
	body := orderBody(t)
	for name, c := range map[string]struct {
		req    events.APIGatewayV2HTTPRequest
		status int
		code   string
	}{
		"unsigned":          {webhookRequest(body, "", nil), 401, "unauthorized"},
		"wrong secret":      {webhookRequest(body, "guess", nil), 401, "unauthorized"},
		"tampered":          {func() events.APIGatewayV2HTTPRequest { r := webhookRequest(body, "hush", nil); r.Body += " "; return r }(), 401, "unauthorized"},
		"garbage signature": {webhookRequest(body, "", map[string]string{"x-shopify-hmac-sha256": "%%%"}), 401, "unauthorized"},
		"too large":         {webhookRequest(bytes.Repeat([]byte("a"), orders.DefaultMaxBodyBytes+1), "hush", nil), 413, "payload_too_large"},
		"no topic":          {webhookRequest(body, "hush", map[string]string{"x-shopify-topic": ""}), 400, "invalid_request"},
		"bad shop":          {webhookRequest(body, "hush", map[string]string{"x-shopify-shop-domain": "evil.example.com"}), 400, "invalid_request"},
		"no webhook id":     {webhookRequest(body, "hush", map[string]string{"x-shopify-webhook-id": ""}), 400, "invalid_request"},
	} {
		q, seen := &fakeQueue{}, newDeliveries()
		r := newReceiver(q, seen)
		resp, err := r.Handle(context.Background(), c.req)
		require.NoError(t, err)
		assert.Equal(t, c.status, resp.StatusCode, name)
		var p struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &p), name)
		assert.Equal(t, c.code, p.Error.Code, name)
		assert.NotEmpty(t, p.Error.Message, name)
		assert.Empty(t, q.bodies, "%s: nothing queued", name)
		assert.Zero(t, seen.claims, "%s: nothing recorded", name)
	}
}

func TestReceiverIgnoresTopicsItDoesNotHandleAndRetriesWhatItCannotReach(t *testing.T) {
	body := []byte(`{"id":1}`)
	q := &fakeQueue{}
	r := newReceiver(q, newDeliveries())
	resp, _ := r.Handle(context.Background(), webhookRequest(body, "hush", map[string]string{"x-shopify-topic": "products/update"}))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, resp.Body, `"status":"ignored"`)
	assert.Empty(t, q.bodies)

	r.Queue = &fakeQueue{err: errors.New("sqs down")}
	resp, _ = r.Handle(context.Background(), webhookRequest(body, "hush", nil))
	assert.Equal(t, 503, resp.StatusCode, "Shopify retries a 5xx: nothing is lost")

	q, seen := &fakeQueue{}, newDeliveries()
	seen.claimErr = errors.New("dynamodb throttled")
	r.Queue, r.Seen = q, seen
	resp, _ = r.Handle(context.Background(), webhookRequest(body, "hush", nil))
	assert.Equal(t, 503, resp.StatusCode, "the webhook id cannot be recorded: Shopify retries")
	assert.Empty(t, q.bodies, "nothing queued without its record")

	r.Secrets = &staticSecrets{err: errors.New("secrets manager down")}
	resp, _ = r.Handle(context.Background(), webhookRequest(body, "hush", nil))
	assert.Equal(t, 503, resp.StatusCode)
}

func TestReceiverAcceptsBothSecretsDuringARotationAndRereadsAChangedOne(t *testing.T) {
	body := []byte(`{"id":1}`)
	for _, sig := range []string{"old", "new"} {
		r := newReceiver(&fakeQueue{}, newDeliveries())
		r.Secrets = &staticSecrets{secrets: [][]byte{[]byte("new"), []byte("old")}}
		resp, _ := r.Handle(context.Background(), webhookRequest(body, sig, nil))
		assert.Equal(t, 200, resp.StatusCode, sig)
	}
	// The cached secret is stale: a mismatch reads it again before refusing.
	s := &staticSecrets{secrets: [][]byte{[]byte("old")}, fresh: [][]byte{[]byte("new")}}
	r := newReceiver(&fakeQueue{}, newDeliveries())
	r.Secrets = s
	resp, _ := r.Handle(context.Background(), webhookRequest(body, "new", nil))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 2, s.reads)
}

func TestCachedSecretsReadRarelyAndParseRotations(t *testing.T) {
	now := t0
	fetches := 0
	value := `{"current":"new","previous":"old"}`
	c := &orders.CachedSecrets{Fetch: func(context.Context) (string, error) { fetches++; return value, nil }, Now: func() time.Time { return now }}
	got, err := c.Secrets(context.Background(), false)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("new"), []byte("old")}, got)
	c.Secrets(context.Background(), false)
	c.Secrets(context.Background(), true) // forced, but read 0 s ago
	assert.Equal(t, 1, fetches, "cached")
	now = now.Add(31 * time.Second)
	value = "newest"
	got, _ = c.Secrets(context.Background(), true)
	assert.Equal(t, [][]byte{[]byte("newest")}, got)
	assert.Equal(t, 2, fetches)
	now = now.Add(6 * time.Minute)
	c.Secrets(context.Background(), false)
	assert.Equal(t, 3, fetches, "expired after the TTL")

	for v, want := range map[string]string{"": "empty", "{}": `without a "current"`, `{"current":1}`: `without a "current"`} {
		_, err := orders.ParseSecret(v)
		assert.ErrorContains(t, err, want, v)
	}
}

// --- consumer ---

type memStore struct {
	mu     sync.Mutex
	orders map[string]map[string]orders.Stored // shop → id
	saves  int
	err    error
}

func newMemStore() *memStore { return &memStore{orders: map[string]map[string]orders.Stored{}} }

func (s *memStore) Save(_ context.Context, shop string, o shopify.Order, webhookID string, _ time.Time) (bool, orders.Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, orders.Stored{}, s.err
	}
	if s.orders[shop] == nil {
		s.orders[shop] = map[string]orders.Stored{}
	}
	if old, ok := s.orders[shop][o.ID]; ok {
		return false, old, nil
	}
	st := orders.Stored{OrderID: o.ID, WebhookID: webhookID}
	if o.Customer != nil {
		st.CustomerID = o.Customer.ID
	}
	s.orders[shop][o.ID] = st
	s.saves++
	return true, st, nil
}

func (s *memStore) MarkPushQueued(_ context.Context, shop, id string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.orders[shop][id]
	st.PushQueuedAt = now.Format(time.RFC3339)
	s.orders[shop][id] = st
	return nil
}

func (s *memStore) List(_ context.Context, shop string) ([]orders.Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []orders.Stored
	for _, o := range s.orders[shop] {
		out = append(out, o)
	}
	return out, nil
}

func (s *memStore) Delete(_ context.Context, shop string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.orders[shop], id)
	}
	return nil
}

type fakePushes struct {
	sent []push.Push
	err  error
}

func (f *fakePushes) Send(_ context.Context, p push.Push) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, p)
	return nil
}

type fakeParker struct{ parked []string }

func (f *fakeParker) Park(_ context.Context, body, reason string) error {
	f.parked = append(f.parked, reason)
	return nil
}

type consumerWorld struct {
	c      *orders.Consumer
	store  *memStore
	pushes *fakePushes
	parker *fakeParker
	logs   *bytes.Buffer
}

func newConsumer() *consumerWorld {
	w := &consumerWorld{store: newMemStore(), pushes: &fakePushes{}, parker: &fakeParker{}, logs: &bytes.Buffer{}}
	w.c = &orders.Consumer{Store: w.store, Pushes: w.pushes, Parker: w.parker, Owners: map[string]string{"jsmith.myshopify.com": "owner-1"},
		Now: func() time.Time { return t0 }, Logger: slog.New(slog.NewJSONHandler(w.logs, nil))}
	return w
}

func queued(t *testing.T, topic, shop, webhookID, body string) events.SQSMessage {
	t.Helper()
	b, err := json.Marshal(shopify.Webhook{Topic: topic, ShopDomain: shop, WebhookID: webhookID, ReceivedAt: t0, Body: body})
	require.NoError(t, err)
	return events.SQSMessage{MessageId: "m-" + webhookID, Body: string(b)}
}

func (w *consumerWorld) handle(t *testing.T, ms ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	var resp events.SQSEventResponse
	require.NotPanics(t, func() { resp, _ = w.c.Handle(context.Background(), events.SQSEvent{Records: ms}) })
	return resp
}

func TestAnOrderIsSavedThenItsOwnerPushedOnce(t *testing.T) {
	w := newConsumer()
	var emf bytes.Buffer
	w.c.Metrics = &metrics.Emitter{W: &emf, Function: "shopifyorders"}
	m := queued(t, "orders/create", "jsmith.myshopify.com", "wh-1", string(orderBody(t)))
	assert.Empty(t, w.handle(t, m).BatchItemFailures)
	assert.Contains(t, emf.String(), `"OrdersSaved":1`)
	require.Len(t, w.pushes.sent, 1)
	p := w.pushes.sent[0]
	assert.Equal(t, "owner-1", p.UserID)
	assert.Equal(t, "shopify-jsmith-order-820982911946154508", p.ID)
	assert.Equal(t, 1, w.store.saves)
	assert.NotEmpty(t, w.store.orders["jsmith.myshopify.com"]["820982911946154508"].PushQueuedAt)

	// Shopify's retry of the same webhook, and a duplicate with another webhook id: nothing.
	w.handle(t, m, queued(t, "orders/create", "jsmith.myshopify.com", "wh-2", string(orderBody(t))))
	assert.Len(t, w.pushes.sent, 1, "no second push")
	assert.Equal(t, 1, w.store.saves, "no second order")
	assert.Contains(t, w.logs.String(), `"firstWebhookId":"wh-1"`)
}

func TestAPushThatFailedAfterTheSaveIsQueuedOnTheRetry(t *testing.T) {
	w := newConsumer()
	m := queued(t, "orders/create", "jsmith.myshopify.com", "wh-1", string(orderBody(t)))
	w.pushes.err = errors.New("sqs throttled")
	resp := w.handle(t, m)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: m.MessageId}}, resp.BatchItemFailures, "retried")
	assert.Equal(t, 1, w.store.saves, "the order is saved first")
	w.pushes.err = nil
	assert.Empty(t, w.handle(t, m).BatchItemFailures)
	assert.Len(t, w.pushes.sent, 1, "the retry queues the push it could not queue")

	w.store.err = errors.New("dynamodb throttled")
	m2 := queued(t, "orders/create", "jsmith.myshopify.com", "wh-9", `{"id":2}`)
	assert.Len(t, w.handle(t, m2).BatchItemFailures, 1)
	assert.Len(t, w.pushes.sent, 1, "no push for an order not saved")
}

func TestUnusableMessagesAreParkedWithTheirReasonAndTheBatchGoesOn(t *testing.T) {
	w := newConsumer()
	good := queued(t, "orders/create", "jsmith.myshopify.com", "wh-ok", `{"id":7,"total_price":"1.00","currency":"EUR"}`)
	resp := w.handle(t,
		events.SQSMessage{MessageId: "junk", Body: "not json"},
		queued(t, "orders/create", "jsmith.myshopify.com", "wh-bad", `{"name":"#1"}`),
		good,
		queued(t, "customers/redact", "jsmith.myshopify.com", "wh-red", `{"shop_domain":"other.myshopify.com","customer":{"id":1}}`),
	)
	assert.Empty(t, resp.BatchItemFailures, "parked messages are done; nothing retries forever")
	assert.Equal(t, []string{
		"not a queued webhook: invalid character 'o' in literal null (expecting 'u')",
		"order: id is missing",
		`customers/redact: shop_domain "other.myshopify.com" differs from the webhook's shop "jsmith.myshopify.com"`,
	}, w.parker.parked)
	assert.Len(t, w.pushes.sent, 1, "the good order in the same batch is pushed")
}

func TestAnOrderOfAShopWithoutOwnerIsSavedWithoutPush(t *testing.T) {
	w := newConsumer()
	w.handle(t, queued(t, "orders/create", "nobody.myshopify.com", "wh-1", `{"id":3}`))
	assert.Len(t, w.store.orders["nobody.myshopify.com"], 1)
	assert.Empty(t, w.pushes.sent)
	assert.Contains(t, w.logs.String(), "no owner is configured for this shop")
}

func TestRedactionDeletesTheCustomersOrdersOrTheShops(t *testing.T) {
	w := newConsumer()
	shop := "jsmith.myshopify.com"
	for i, cust := range []string{"c-1", "c-1", "c-2", ""} {
		body := fmt.Sprintf(`{"id":%d}`, 100+i)
		if cust != "" {
			body = fmt.Sprintf(`{"id":%d,"customer":{"id":%s}}`, 100+i, strings.TrimPrefix(cust, "c-"))
		}
		w.handle(t, queued(t, "orders/create", shop, fmt.Sprint("wh-", i), body))
	}
	w.handle(t, queued(t, "orders/create", "other.myshopify.com", "wh-o", `{"id":100,"customer":{"id":1}}`))
	require.Len(t, w.store.orders[shop], 4)

	// customer 1's orders, and order 103 named in orders_to_redact.
	w.handle(t, queued(t, "customers/redact", shop, "wh-r1", `{"shop_domain":"jsmith.myshopify.com","customer":{"id":1},"orders_to_redact":[103]}`))
	assert.Len(t, w.store.orders[shop], 1)
	assert.Contains(t, w.store.orders[shop], "102")
	assert.Len(t, w.store.orders["other.myshopify.com"], 1, "another shop's orders stay")

	w.handle(t, queued(t, "customers/data_request", shop, "wh-d", `{"shop_domain":"jsmith.myshopify.com","customer":{"id":2},"data_request":{"id":9}}`))
	assert.Contains(t, w.logs.String(), `"ordersHeld":1`)

	w.handle(t, queued(t, "shop/redact", shop, "wh-r2", `{"shop_domain":"jsmith.myshopify.com"}`))
	assert.Empty(t, w.store.orders[shop])
	assert.Len(t, w.store.orders["other.myshopify.com"], 1)
}
