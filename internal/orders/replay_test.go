package orders_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/shopify"
)

// The attacks of issue #18: a captured signed body replayed (as is, under another webhook id,
// under another shop's header, days later), and hostile values in every header the receiver
// now reads. Each refused request leaves nothing: no queued message, no webhooks table record.

func answer(t *testing.T, resp events.APIGatewayV2HTTPResponse) (status, code string) {
	t.Helper()
	var a struct {
		Status string `json:"status"`
		Error  struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &a), resp.Body)
	return a.Status, a.Error.Code
}

func TestAWebhookIDIsHandledOnce(t *testing.T) {
	q, seen := &fakeQueue{}, newDeliveries()
	var logs bytes.Buffer
	r := newReceiver(q, seen)
	r.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	body := orderBody(t)
	req := webhookRequest(body, "hush", nil)
	resp, _ := r.Handle(context.Background(), req)
	require.Equal(t, 200, resp.StatusCode, resp.Body)

	// The same request again (Shopify's duplicate, or a replay as captured): 200, nothing.
	resp, _ = r.Handle(context.Background(), req)
	assert.Equal(t, 200, resp.StatusCode, "a duplicate is acknowledged, or Shopify would retry it")
	status, _ := answer(t, resp)
	assert.Equal(t, "duplicate", status)
	assert.Len(t, q.bodies, 1, "queued once")
	assert.Contains(t, logs.String(), `"queuedBefore":true`)

	// The id reused with another shop's header, or another signed body: still nothing.
	other := []byte(`{"id":1,"updated_at":"` + t0.Format(time.RFC3339) + `"}`)
	for name, again := range map[string]events.APIGatewayV2HTTPRequest{
		"another shop": webhookRequest([]byte(`{"id":1}`), "hush", map[string]string{"x-shopify-shop-domain": "other.myshopify.com"}),
		"another body": webhookRequest(other, "hush", nil),
		"another topic": webhookRequest([]byte(`{"shop_domain":"jsmith.myshopify.com"}`), "hush",
			map[string]string{"x-shopify-topic": "shop/redact"}),
	} {
		resp, _ = r.Handle(context.Background(), again)
		status, _ = answer(t, resp)
		assert.Equal(t, "duplicate", status, name)
	}
	assert.Len(t, q.bodies, 1, "nothing more queued")
	assert.Contains(t, logs.String(), `"sameContent":false`)
}

// The receiver records the id, then queues: a webhook it failed to queue is queued on
// Shopify's retry of the same delivery, never lost.
func TestAWebhookThatCouldNotBeQueuedIsQueuedOnShopifysRetry(t *testing.T) {
	q, seen := &fakeQueue{err: errors.New("sqs throttled")}, newDeliveries()
	r := newReceiver(q, seen)
	req := webhookRequest(orderBody(t), "hush", nil)
	resp, _ := r.Handle(context.Background(), req)
	require.Equal(t, 503, resp.StatusCode)
	assert.False(t, seen.byID["b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"].Queued, "recorded as received only")

	q.err = nil
	resp, _ = r.Handle(context.Background(), req)
	assert.Equal(t, 200, resp.StatusCode, resp.Body)
	status, _ := answer(t, resp)
	assert.Equal(t, "queued", status, "the retry claims the id again")
	assert.Len(t, q.bodies, 1)
	resp, _ = r.Handle(context.Background(), req)
	status, _ = answer(t, resp)
	assert.Equal(t, "duplicate", status, "and from then on it is a duplicate")

	// Queued, but the "queued" mark failed (or the function died before it): 200, and a
	// repeat is queued again; the consumer absorbs it (one order and one push per order id).
	q2, seen2 := &fakeQueue{}, newDeliveries()
	seen2.markErr = errors.New("dynamodb throttled")
	r = newReceiver(q2, seen2)
	resp, _ = r.Handle(context.Background(), req)
	assert.Equal(t, 200, resp.StatusCode)
	resp, _ = r.Handle(context.Background(), req)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Len(t, q2.bodies, 2, "at least once, never lost")
	c := newConsumer()
	c.handle(t, events.SQSMessage{MessageId: "a", Body: q2.bodies[0]}, events.SQSMessage{MessageId: "b", Body: q2.bodies[1]})
	assert.Len(t, c.pushes.sent, 1, "one push")
	assert.Equal(t, 1, c.store.saves, "one order")
}

func TestAStaleWebhookIsRefusedByItsSignedTimeOrItsHeader(t *testing.T) {
	old := t0.Add(-25 * time.Hour)
	order := func(updated, created time.Time) []byte {
		return []byte(fmt.Sprintf(`{"id":7,"created_at":%q,"updated_at":%q,"order_status_url":"https://jsmith.myshopify.com/1/orders/x/authenticate?key=k"}`,
			created.Format(time.RFC3339), updated.Format(time.RFC3339)))
	}
	for name, c := range map[string]struct {
		req        events.APIGatewayV2HTTPRequest
		status     int
		code, word string
	}{
		// A replay that keeps Shopify's headers.
		"old header": {webhookRequest(order(old, old), "hush", map[string]string{"x-shopify-triggered-at": old.Format(time.RFC3339)}), 400, "stale", "X-Shopify-Triggered-At"},
		// A replay that rewrites the header: the signed updated_at gives it away.
		"old body, fresh header":  {webhookRequest(order(old, old), "hush", nil), 400, "stale", "updated_at"},
		"old body, no updated_at": {webhookRequest([]byte(`{"id":7,"created_at":"`+old.Format(time.RFC3339)+`"}`), "hush", nil), 400, "stale", "created_at"},
		// The privacy payloads carry no time: the header is all there is.
		"old privacy request": {webhookRequest([]byte(`{"shop_domain":"jsmith.myshopify.com"}`), "hush",
			map[string]string{"x-shopify-topic": "shop/redact", "x-shopify-triggered-at": old.Format(time.RFC3339)}), 400, "stale", "X-Shopify-Triggered-At"},
		"header from the future": {webhookRequest(order(t0, t0), "hush", map[string]string{"x-shopify-triggered-at": t0.Add(time.Hour).Format(time.RFC3339)}), 400, "invalid_request", "in the future"},
		"body from the future":   {webhookRequest(order(t0.Add(time.Hour), t0), "hush", nil), 400, "invalid_request", "in the future"},
		"year 1":                 {webhookRequest(order(t0, t0), "hush", map[string]string{"x-shopify-triggered-at": "0001-01-01T00:00:00Z"}), 400, "stale", "X-Shopify-Triggered-At"},
		// Shopify's last retry, 4 hours after the trigger, with the original payload; a clock a
		// minute ahead; the window's edge.
		"Shopify's last retry": {webhookRequest(order(t0.Add(-4*time.Hour), t0.Add(-4*time.Hour)), "hush",
			map[string]string{"x-shopify-triggered-at": t0.Add(-4 * time.Hour).Format(time.RFC3339)}), 200, "", "queued"},
		"a minute ahead": {webhookRequest(order(t0.Add(time.Minute), t0), "hush", map[string]string{"x-shopify-triggered-at": t0.Add(time.Minute).Format(time.RFC3339)}), 200, "", "queued"},
		"24 hours old":   {webhookRequest(order(t0.Add(-24*time.Hour), t0.Add(-24*time.Hour)), "hush", nil), 200, "", "queued"},
	} {
		q, seen := &fakeQueue{}, newDeliveries()
		r := newReceiver(q, seen)
		resp, _ := r.Handle(context.Background(), c.req)
		assert.Equal(t, c.status, resp.StatusCode, "%s: %s", name, resp.Body)
		assert.Contains(t, resp.Body, c.word, name)
		if c.status != 200 {
			_, code := answer(t, resp)
			assert.Equal(t, c.code, code, name)
			assert.Empty(t, q.bodies, name)
			assert.Zero(t, seen.claims, "%s: nothing recorded", name)
		}
	}

	// The window is the receiver's: a shorter one refuses what the default accepts.
	r := newReceiver(&fakeQueue{}, newDeliveries())
	r.MaxAge = 6 * time.Hour
	resp, _ := r.Handle(context.Background(), webhookRequest(order(t0.Add(-7*time.Hour), t0.Add(-7*time.Hour)), "hush", nil))
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, resp.Body, "more than 6h0m0s")
}

func TestAShopHeaderThatIsNotTheShopTheBodyNamesIsRefused(t *testing.T) {
	body := orderBody(t) // order_status_url on jsmith.myshopify.com
	custom := []byte(`{"id":8,"updated_at":"` + t0.Format(time.RFC3339) + `","order_status_url":"https://shop.example/74407641366/orders/abc/authenticate?key=k"}`)
	for name, c := range map[string]struct {
		req    events.APIGatewayV2HTTPRequest
		status int
		code   string
	}{
		"jsmith's order as other's": {webhookRequest(body, "hush", map[string]string{"x-shopify-shop-domain": "other.myshopify.com"}), 400, "shop_mismatch"},
		"a redaction of jsmith as other's": {webhookRequest([]byte(`{"shop_domain":"jsmith.myshopify.com","customer":{"id":1}}`), "hush",
			map[string]string{"x-shopify-topic": "customers/redact", "x-shopify-shop-domain": "other.myshopify.com"}), 400, "shop_mismatch"},
		"a data request of jsmith as other's": {webhookRequest([]byte(`{"shop_domain":"jsmith.myshopify.com"}`), "hush",
			map[string]string{"x-shopify-topic": "customers/data_request", "x-shopify-shop-domain": "other.myshopify.com"}), 400, "shop_mismatch"},
		"the shop's own header": {webhookRequest(body, "hush", nil), 200, ""},
		"an upper-case host":    {webhookRequest(bytes.Replace(body, []byte("https://jsmith.myshopify.com"), []byte("https://JSMITH.myshopify.com"), 1), "hush", nil), 200, ""},
		// A shop whose status page is on its own domain: the body names no myshopify.com
		// domain, the header is trusted (docs/shopify.md, "What remains").
		"an order on a custom domain": {webhookRequest(custom, "hush", map[string]string{"x-shopify-shop-domain": "other.myshopify.com"}), 200, ""},
	} {
		q, seen := &fakeQueue{}, newDeliveries()
		var logs bytes.Buffer
		r := newReceiver(q, seen)
		r.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		resp, _ := r.Handle(context.Background(), c.req)
		assert.Equal(t, c.status, resp.StatusCode, "%s: %s", name, resp.Body)
		if c.status == 200 {
			assert.Len(t, q.bodies, 1, name)
			continue
		}
		_, code := answer(t, resp)
		assert.Equal(t, c.code, code, name)
		assert.Empty(t, q.bodies, name)
		assert.Zero(t, seen.claims, name)
		assert.Contains(t, logs.String(), `"code":"shop_mismatch"`, name)
	}
	q := &fakeQueue{}
	var logs bytes.Buffer
	r := newReceiver(q, newDeliveries())
	r.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	r.Handle(context.Background(), webhookRequest(custom, "hush", nil))
	assert.Contains(t, logs.String(), `"shopUnverified":true`, "an unverifiable shop is logged as such")
	assert.Contains(t, logs.String(), `"bodyHost":"shop.example"`)
}

func TestHostileHeadersAndBodiesAreRefusedAndLeaveNothing(t *testing.T) {
	body := orderBody(t)
	fresh := t0.Format(time.RFC3339)
	cases := map[string]struct {
		body []byte
		hdr  map[string]string
		word string
	}{
		"no webhook id":              {body, map[string]string{"x-shopify-webhook-id": ""}, "no X-Shopify-Webhook-Id"},
		"webhook id too long":        {body, map[string]string{"x-shopify-webhook-id": strings.Repeat("a", shopify.MaxIDLength+1)}, "X-Shopify-Webhook-Id is not an id"},
		"webhook id with a space":    {body, map[string]string{"x-shopify-webhook-id": "a b"}, "X-Shopify-Webhook-Id is not an id"},
		"webhook id with a quote":    {body, map[string]string{"x-shopify-webhook-id": `a"b`}, "X-Shopify-Webhook-Id is not an id"},
		"webhook id with a newline":  {body, map[string]string{"x-shopify-webhook-id": "a\nX-Injected: 1"}, "X-Shopify-Webhook-Id is not an id"},
		"webhook id not ASCII":       {body, map[string]string{"x-shopify-webhook-id": "wébhook"}, "X-Shopify-Webhook-Id is not an id"},
		"webhook id with NUL":        {body, map[string]string{"x-shopify-webhook-id": "a\x00b"}, "X-Shopify-Webhook-Id is not an id"},
		"event id with a backslash":  {body, map[string]string{"x-shopify-event-id": `a\b`}, "X-Shopify-Event-Id is not an id"},
		"event id too long":          {body, map[string]string{"x-shopify-event-id": strings.Repeat("9", shopify.MaxIDLength+1)}, "X-Shopify-Event-Id is not an id"},
		"no triggered-at":            {body, map[string]string{"x-shopify-triggered-at": ""}, "no X-Shopify-Triggered-At"},
		"triggered-at in words":      {body, map[string]string{"x-shopify-triggered-at": "yesterday"}, "X-Shopify-Triggered-At"},
		"triggered-at as epoch":      {body, map[string]string{"x-shopify-triggered-at": fmt.Sprint(t0.Unix())}, "X-Shopify-Triggered-At"},
		"triggered-at, HTTP date":    {body, map[string]string{"x-shopify-triggered-at": t0.Format(time.RFC1123)}, "X-Shopify-Triggered-At"},
		"triggered-at without zone":  {body, map[string]string{"x-shopify-triggered-at": "2026-11-24T10:00:00"}, "X-Shopify-Triggered-At"},
		"triggered-at year 99999":    {body, map[string]string{"x-shopify-triggered-at": "99999-01-01T00:00:00Z"}, "X-Shopify-Triggered-At"},
		"triggered-at far ahead":     {body, map[string]string{"x-shopify-triggered-at": "9999-12-31T23:59:59Z"}, "in the future"},
		"shop domain with a path":    {body, map[string]string{"x-shopify-shop-domain": "jsmith.myshopify.com/x"}, "not a myshopify.com domain"},
		"shop domain upper case":     {body, map[string]string{"x-shopify-shop-domain": "JSMITH.myshopify.com"}, "not a myshopify.com domain"},
		"an order that is an array":  {[]byte(`[{"id":1}]`), nil, "not what Shopify sends"},
		"an order that is null":      {[]byte(`null`), nil, "not what Shopify sends"},
		"an order that is a string":  {[]byte(`"x"`), nil, "not what Shopify sends"},
		"created_at in words":        {[]byte(`{"id":1,"created_at":"last week"}`), nil, "created_at"},
		"updated_at a number":        {[]byte(`{"id":1,"updated_at":1732442400}`), nil, "not an order object"},
		"status page over http":      {[]byte(`{"id":1,"updated_at":"` + fresh + `","order_status_url":"http://jsmith.myshopify.com/1/orders/x"}`), nil, "order_status_url"},
		"status page not a URL":      {[]byte(`{"id":1,"updated_at":"` + fresh + `","order_status_url":"::"}`), nil, "order_status_url"},
		"status page on a bad shop":  {[]byte(`{"id":1,"updated_at":"` + fresh + `","order_status_url":"https://bad_shop.myshopify.com/1/orders/x"}`), nil, "order_status_url"},
		"privacy body without shop":  {[]byte(`{"customer":{"id":1}}`), map[string]string{"x-shopify-topic": "customers/redact"}, "shop_domain"},
		"privacy body not an object": {[]byte(`[]`), map[string]string{"x-shopify-topic": "shop/redact"}, "not what Shopify sends"},
	}
	for name, c := range cases {
		q, seen := &fakeQueue{}, newDeliveries()
		r := newReceiver(q, seen)
		var resp events.APIGatewayV2HTTPResponse
		require.NotPanics(t, func() { resp, _ = r.Handle(context.Background(), webhookRequest(c.body, "hush", c.hdr)) }, name)
		assert.Equal(t, 400, resp.StatusCode, "%s: %s", name, resp.Body)
		assert.Contains(t, resp.Body, c.word, name)
		assert.Empty(t, q.bodies, "%s: nothing queued", name)
		assert.Zero(t, seen.claims, "%s: nothing recorded", name)
	}
	// Unsigned, the same hostile headers get 401 before anything reads them.
	for name, c := range cases {
		r := newReceiver(&fakeQueue{}, newDeliveries())
		resp, _ := r.Handle(context.Background(), webhookRequest(c.body, "", c.hdr))
		assert.Equal(t, 401, resp.StatusCode, name)
	}
	// A header too long for the log is cut there.
	var logs bytes.Buffer
	r := newReceiver(&fakeQueue{}, newDeliveries())
	r.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	r.Handle(context.Background(), webhookRequest(body, "hush", map[string]string{"x-shopify-webhook-id": strings.Repeat("w", 5000)}))
	assert.Less(t, logs.Len(), 3000)
}

// What reaches the orders queue by another way (a redrive, an older receiver) is held to the
// same shop rule by the consumer.
func TestTheConsumerParksAnOrderOfAnotherShop(t *testing.T) {
	w := newConsumer()
	resp := w.handle(t, queued(t, "orders/create", "other.myshopify.com", "wh-x", string(orderBody(t))))
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, []string{`orders/create: order_status_url names the shop "jsmith.myshopify.com", not the webhook's shop "other.myshopify.com"`}, w.parker.parked)
	assert.Empty(t, w.pushes.sent)
	assert.Zero(t, w.store.saves)
}

func TestReceiverSettingsOfTheWindow(t *testing.T) {
	assert.Equal(t, 24*time.Hour, orders.DefaultMaxAge)
	assert.Greater(t, orders.MinMaxAge, 4*time.Hour, "above Shopify's retry schedule (8 retries over 4 hours)")
}
