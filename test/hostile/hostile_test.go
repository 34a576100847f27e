// Package hostile throws malformed and hostile input at every entry point (schedule input,
// queue message, HTTP API, device registration, Shopify webhook and order message) and checks
// that each gets its specific error, that nothing panics, and that a valid message in the
// same batch is not dropped.
package hostile

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
	"github.com/delayed-push/delayed-push/shopify"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const validPush = `{"userId":"u-1","title":"Shipped"}`

var (
	huge      = strings.Repeat("x", 1<<20)
	bigData   = `{"userId":"u","title":"t","data":{"blob":"` + strings.Repeat("a", 5000) + `"}}`
	badUTF8   = "{\"userId\":\"u\",\"title\":\"\xff\xfe\"}"
	farFuture = "3026-01-01T00:00:00Z"
)

// --- schedule input -----------------------------------------------------------------------

func TestScheduleInput(t *testing.T) {
	for _, c := range []struct{ name, input, field, words string }{
		{"truncated JSON", `{"delaySeconds":5,"push":{`, "$", "malformed JSON"},
		{"wrong type", `{"delaySeconds":"5","push":` + validPush + `}`, "delaySeconds", "integer"},
		{"unknown field", `{"delaySeconds":5,"push":` + validPush + `,"priority":"high"}`, "priority", "unknown field"},
		{"fractional delay", `{"delaySeconds":1.5,"push":` + validPush + `}`, "delaySeconds", "integer"},
		{"negative delay", `{"delaySeconds":-1,"push":` + validPush + `}`, "delaySeconds", "0.."},
		{"enormous delay", `{"delaySeconds":1e30,"push":` + validPush + `}`, "delaySeconds", ""},
		{"both times", `{"delaySeconds":5,"sendAt":"2026-12-01T10:00:00Z","push":` + validPush + `}`, "sendAt", "both"},
		{"far future", `{"sendAt":"` + farFuture + `","push":` + validPush + `}`, "sendAt", ""},
		{"not a time", `{"sendAt":"tomorrow","push":` + validPush + `}`, "sendAt", "RFC 3339"},
		{"push not an object", `{"delaySeconds":5,"push":[]}`, "push", ""},
		{"huge title", `{"delaySeconds":5,"push":{"userId":"u","title":"` + huge + `"}}`, "push", ""},
		{"invalid UTF-8", `{"delaySeconds":5,"push":` + badUTF8 + `}`, "", ""},
		{"FCM message over 4 KB", `{"delaySeconds":5,"push":` + bigData + `}`, "push", ""},
		{"reserved data key", `{"delaySeconds":5,"push":{"userId":"u","title":"t","data":{"google.x":"1"}}}`, "push.data", "google."},
		{"no recipient", `{"delaySeconds":5,"push":{"title":"t"}}`, "push.userId", "missing recipient"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = schedule.Parse([]byte(c.input), now) })
			require.Error(t, err)
			var ie *push.InvalidError
			if assert.ErrorAs(t, err, &ie, "%v", err) {
				if c.field != "" {
					assert.Contains(t, ie.Field, c.field)
				}
				assert.Contains(t, ie.Error(), c.words)
				assert.NotEmpty(t, ie.Reason)
			}
		})
	}
}

// --- queue message ------------------------------------------------------------------------

type registry struct{}

func (registry) Endpoints(context.Context, string) ([]delivery.Endpoint, error) {
	return []delivery.Endpoint{{ARN: "arn:aws:sns:eu-west-1:1:endpoint/GCM/app/1"}}, nil
}
func (registry) Disable(context.Context, string, string, string, time.Time) error { return nil }

type deliveryLog struct {
	mu   sync.Mutex
	done map[delivery.Key]string
}

func (l *deliveryLog) Claim(_ context.Context, k delivery.Key, _ delivery.ClaimRequest) (delivery.Claim, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.done[k]; ok && delivery.Final(st) {
		return delivery.Claim{Outcome: delivery.AlreadyDone, Status: st}, nil
	}
	return delivery.Claim{Outcome: delivery.Claimed}, nil
}

func (l *deliveryLog) Mark(_ context.Context, k delivery.Key, _ delivery.Lease, m delivery.Mark) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done[k] = m.Status
	return nil
}

type publisher struct {
	mu    sync.Mutex
	count int
}

func (p *publisher) Publish(context.Context, string, string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	return fmt.Sprint("msg-", p.count), nil
}

type queue struct {
	mu     sync.Mutex
	parked []delivery.Message
}

func (q *queue) Park(_ context.Context, m delivery.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.parked = append(q.parked, m)
	return nil
}
func (q *queue) Requeue(context.Context, delivery.Message) error { return nil }

func TestQueueMessages(t *testing.T) {
	hostile := []struct{ name, body, field string }{
		{"truncated JSON", `{"userId":"u","title":`, "$"},
		{"empty body", ``, "$"},
		{"null", `null`, "$"},
		{"array", `[1,2]`, "$"},
		{"invalid UTF-8", badUTF8, ""},
		{"huge body", `{"userId":"u","title":"` + strings.Repeat("y", 300<<10) + `"}`, ""},
		{"unknown field", `{"userId":"u","title":"t","sound":"ding"}`, "sound"},
		{"wrong type", `{"userId":"u","title":"t","ttlSeconds":"1h"}`, "ttlSeconds"},
		{"garbage dueAt", `{"userId":"u","title":"t","dueAt":"soon"}`, "dueAt"},
		{"FCM message over 4 KB", bigData, ""},
		{"control characters in the recipient", "{\"userId\":\"u\",\"endpointArn\":\"arn:x\",\"title\":\"t\"}", "endpointArn"},
	}
	var records []events.SQSMessage
	for i, h := range hostile {
		records = append(records, events.SQSMessage{MessageId: fmt.Sprint("bad-", i), Body: h.body,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	// Valid pushes in the same batch, one of them twice (the same id: sent once).
	for _, id := range []string{"good-1", "good-2", "good-2"} {
		records = append(records, events.SQSMessage{MessageId: "m-" + id + fmt.Sprint(len(records)), Body: `{"id":"` + id + `","userId":"u","title":"ok"}`,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	pub, q := &publisher{}, &queue{}
	var logs bytes.Buffer
	svc := &delivery.Service{Registry: registry{}, Log: &deliveryLog{done: map[delivery.Key]string{}}, Publisher: pub, Queue: q,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return now }, MaxReceiveCount: 5}
	var resp events.SQSEventResponse
	require.NotPanics(t, func() { resp, _ = svc.Handle(context.Background(), events.SQSEvent{Records: records}) })
	assert.Empty(t, resp.BatchItemFailures, "bad messages are parked, not retried")
	var got []string
	for _, m := range q.parked {
		got = append(got, m.Attributes["parkReason"].Value)
	}
	require.Len(t, q.parked, len(hostile), "every bad message is parked with its reason: %q", got)
	byBody := map[string]delivery.Message{}
	for _, m := range q.parked {
		byBody[m.Body] = m
	}
	for _, h := range hostile {
		m, ok := byBody[h.body]
		if !assert.True(t, ok, "%s: parked as received", h.name) {
			continue
		}
		reason := m.Attributes["parkReason"].Value
		assert.NotEmpty(t, reason, h.name)
		if h.field != "" {
			assert.Equal(t, h.field, m.Attributes["invalidField"].Value, "%s: %s", h.name, reason)
		}
	}
	assert.Equal(t, 2, pub.count, "the valid pushes are delivered, the repeated id once")
}

// --- HTTP API and device registration --------------------------------------------------------

type fakeSFN struct {
	mu     sync.Mutex
	inputs map[string]string
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.inputs[*in.Name]; ok && old != *in.Input {
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("exists")}
	}
	f.inputs[*in.Name] = *in.Input
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:" + *in.Name), StartDate: aws.Time(now)}, nil
}
func (f *fakeSFN) StopExecution(context.Context, *sfn.StopExecutionInput, ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	return &sfn.StopExecutionOutput{}, nil
}
func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := (*in.ExecutionArn)[4:]
	return &sfn.DescribeExecutionOutput{Input: aws.String(f.inputs[name]), Status: sfntypes.ExecutionStatusRunning, StartDate: aws.Time(now)}, nil
}

type fakeSQS struct{}

func (fakeSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

type noDevices struct{}

func (noDevices) RegisterDevice(_ context.Context, r devices.Registration) (devices.Result, error) {
	_, err := devices.Validate(r)
	return devices.Result{}, err
}
func (noDevices) Devices(_ context.Context, u string) ([]devices.Device, error) {
	return nil, devices.ValidateUserID(u)
}
func (noDevices) UnregisterDevice(_ context.Context, id string) (devices.Device, error) {
	return devices.Device{}, devices.ValidateDeviceID(id)
}
func (noDevices) UnregisterDevices(_ context.Context, u string) ([]devices.Device, error) {
	return nil, devices.ValidateUserID(u)
}

func TestHTTPAPIAndDeviceRegistration(t *testing.T) {
	table := ddbfake.New(index.Key)
	table.Indexes = map[string]ddbfake.Index{index.PendingIndex: {PartitionKey: index.PendingRecipient, SortKey: index.DueAt}}
	c := client.NewWith(client.Resources{StateMachineArn: "arn:aws:states:eu-west-1:1:stateMachine:M", PushQueueURL: "q", SchedulesTable: "s"},
		&fakeSFN{inputs: map[string]string{}}, fakeSQS{}, nil, table, func() time.Time { return now })
	h := &httpapi.Handler{Pushes: c, Devices: noDevices{}, MaxBodyBytes: 65536, Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))}
	call := func(route string, params, query map[string]string, body string, b64 bool) (int, string, string) {
		resp, err := h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: route, Body: body, IsBase64Encoded: b64,
			Headers: map[string]string{"content-type": "application/json"}, PathParameters: params, QueryStringParameters: query,
			// A backend, as IAM authorization passes it on (the per-user rules: internal/httpapi).
			RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:role/orders-api"}}}})
		require.NoError(t, err)
		var p httpapi.Problem
		_ = json.Unmarshal([]byte(resp.Body), &p)
		return resp.StatusCode, p.Error.Code, p.Error.Message
	}
	ok := `{"key":"order-1","delaySeconds":60,"push":` + validPush + `}`
	status, _, _ := call("POST /pushes", nil, nil, ok, false)
	require.Equal(t, 201, status)

	for _, c := range []struct {
		name, route  string
		params, qs   map[string]string
		body         string
		b64          bool
		status       int
		code, detail string
	}{
		{"truncated JSON", "POST /pushes", nil, nil, `{"key":"k","push":{`, false, 400, "invalid_request", "not a JSON object"},
		{"not an object", "POST /pushes", nil, nil, `"hello"`, false, 400, "invalid_request", "not a JSON object"},
		{"unknown field", "POST /pushes", nil, nil, `{"key":"k","push":` + validPush + `,"when":"now"}`, false, 400, "invalid_request", `unknown field "when"`},
		{"missing key", "POST /pushes", nil, nil, `{"push":` + validPush + `}`, false, 400, "invalid_push", "invalid key"},
		{"huge key", "POST /pushes", nil, nil, `{"key":"` + strings.Repeat("k", 20000) + `","push":` + validPush + `}`, false, 400, "invalid_push", "key"},
		{"invalid UTF-8", "POST /pushes", nil, nil, `{"key":"k","push":` + badUTF8 + `}`, false, 400, "", ""},
		{"bad base64", "POST /pushes", nil, nil, "%%%", true, 400, "invalid_request", "base64"},
		{"body over the limit", "POST /pushes", nil, nil, `{"key":"k","push":{"title":"` + strings.Repeat("t", 70000) + `"}}`, false, 413, "payload_too_large", "at most 65536"},
		{"far past sendAt garbage", "POST /pushes", nil, nil, `{"key":"k","sendAt":"0000-00-00","push":` + validPush + `}`, false, 400, "invalid_push", "RFC 3339"},
		{"far future sendAt", "POST /pushes", nil, nil, `{"key":"k2","sendAt":"` + farFuture + `","push":` + validPush + `}`, false, 400, "invalid_push", "sendAt"},
		{"FCM message over 4 KB", "POST /pushes", nil, nil, `{"key":"k3","push":` + bigData + `}`, false, 400, "invalid_push", "4096"},
		{"same key, another push", "POST /pushes", nil, nil, `{"key":"order-1","delaySeconds":60,"push":{"userId":"u-1","title":"Other"}}`, false, 409, "conflict", ""},
		{"negative limit", "GET /pushes", nil, map[string]string{"limit": "-1"}, "", false, 400, "invalid_request", "limit"},
		{"non-numeric limit", "GET /pushes", nil, map[string]string{"limit": "ten"}, "", false, 400, "invalid_request", "limit"},
		{"unknown query parameter", "GET /pushes", nil, map[string]string{"user": "u"}, "", false, 400, "invalid_request", `"user"`},
		{"garbage page token", "GET /pushes", nil, map[string]string{"pageToken": "!!not-a-token!!"}, "", false, 400, "invalid_request", "pageToken"},
		{"device: token with spaces", "POST /devices", nil, nil, `{"userId":"u","token":"a b"}`, false, 400, "invalid_device", "token"},
		{"device: huge token", "POST /devices", nil, nil, `{"userId":"u","token":"` + strings.Repeat("t", 5000) + `"}`, false, 400, "invalid_device", "over the limit of 4096"},
		{"device: unknown platform", "POST /devices", nil, nil, `{"userId":"u","token":"t","platform":"blackberry"}`, false, 400, "invalid_device", "unknown platform"},
		{"device: control characters in the user", "POST /devices", nil, nil, `{"userId":"u\u0000x","token":"t"}`, false, 400, "invalid_device", "control character"},
		{"device: wrong type", "POST /devices", nil, nil, `{"userId":42,"token":"t"}`, false, 400, "invalid_device", "must be a string"},
		{"device: path traversal id", "DELETE /devices/{deviceId}", map[string]string{"deviceId": "../../etc"}, nil, "", false, 400, "invalid_device", "not a device id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var status int
			var code, msg string
			require.NotPanics(t, func() { status, code, msg = call(c.route, c.params, c.qs, c.body, c.b64) })
			assert.Equal(t, c.status, status, "%s: %s", code, msg)
			if c.code != "" {
				assert.Equal(t, c.code, code, msg)
			}
			assert.Contains(t, msg, c.detail)
			assert.NotEmpty(t, msg, "every error says what was wrong")
		})
	}
	// The valid push is still there, unchanged.
	st, err := c.Get(context.Background(), "order-1")
	require.NoError(t, err)
	assert.Equal(t, "Shipped", st.Push.Title)
}

// --- Shopify webhook and order messages ---------------------------------------------------

type secrets struct{}

func (secrets) Secrets(context.Context, bool) ([][]byte, error) { return [][]byte{[]byte("hush")}, nil }

type orderQueue struct{ bodies []string }

func (q *orderQueue) Send(_ context.Context, b string) error {
	q.bodies = append(q.bodies, b)
	return nil
}

func TestShopifyWebhooks(t *testing.T) {
	q := &orderQueue{}
	r := &orders.Receiver{Secrets: secrets{}, Queue: q, Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))}
	body := `{"id":1001,"total_price":"1.00","currency":"EUR"}`
	req := func(b, sig string, hdr map[string]string) events.APIGatewayV2HTTPRequest {
		h := map[string]string{"x-shopify-topic": "orders/create", "x-shopify-shop-domain": "s.myshopify.com", "x-shopify-webhook-id": "w", "x-shopify-hmac-sha256": sig,
			"x-shopify-triggered-at": time.Now().UTC().Format(time.RFC3339)}
		for k, v := range hdr {
			h[k] = v
		}
		return events.APIGatewayV2HTTPRequest{Body: b, Headers: h}
	}
	for _, c := range []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		status int
		words  string
	}{
		{"missing signature", req(body, "", nil), 401, "no X-Shopify-Hmac-Sha256"},
		{"signature of another body", req(body, shopify.Sign([]byte(body+" "), []byte("hush")), nil), 401, "does not match"},
		{"non-base64 signature", req(body, "@@@@", nil), 401, "not a base64"},
		{"oversized body", req(strings.Repeat("z", orders.DefaultMaxBodyBytes+1), "x", nil), 413, "at most"},
		{"spoofed shop domain", req(body, shopify.Sign([]byte(body), []byte("hush")), map[string]string{"x-shopify-shop-domain": "evil.com"}), 400, "myshopify.com"},
		{"header injection in the topic", req(body, shopify.Sign([]byte(body), []byte("hush")), map[string]string{"x-shopify-topic": "orders/create\r\nX: y"}), 200, "ignored"},
		{"invalid UTF-8 body", req("{\"id\":\"\xff\"}", shopify.Sign([]byte("{\"id\":\"\xff\"}"), []byte("hush")), nil), 400, "not valid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var resp events.APIGatewayV2HTTPResponse
			require.NotPanics(t, func() { resp, _ = r.Handle(context.Background(), c.req) })
			assert.Equal(t, c.status, resp.StatusCode, resp.Body)
			assert.Contains(t, resp.Body, c.words)
		})
	}
	assert.Empty(t, q.bodies, "nothing hostile was queued")
	good := req(body, shopify.Sign([]byte(body), []byte("hush")), nil)
	good.Body = base64.StdEncoding.EncodeToString([]byte(body))
	good.IsBase64Encoded = true
	resp, _ := r.Handle(context.Background(), good)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Len(t, q.bodies, 1)
}

type store struct{ saved int }

func (s *store) Save(context.Context, string, shopify.Order, string, time.Time) (bool, orders.Stored, error) {
	s.saved++
	return true, orders.Stored{}, nil
}
func (s *store) MarkPushQueued(context.Context, string, string, time.Time) error { return nil }
func (s *store) List(context.Context, string) ([]orders.Stored, error)           { return nil, nil }
func (s *store) Delete(context.Context, string, []string) error                  { return nil }

type pushes struct{ sent []push.Push }

func (p *pushes) Send(_ context.Context, ps push.Push) error {
	p.sent = append(p.sent, ps)
	return nil
}

type parker struct{ reasons []string }

func (p *parker) Park(_ context.Context, _, reason string) error {
	p.reasons = append(p.reasons, reason)
	return nil
}

func TestShopifyOrderMessages(t *testing.T) {
	st, ps, pk := &store{}, &pushes{}, &parker{}
	c := &orders.Consumer{Store: st, Pushes: ps, Parker: pk, Owners: map[string]string{"s.myshopify.com": "owner"},
		Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))}
	msg := func(topic, body string) string {
		b, _ := json.Marshal(shopify.Webhook{Topic: topic, ShopDomain: "s.myshopify.com", WebhookID: "w", ReceivedAt: now, Body: body})
		return string(b)
	}
	hostile := []struct{ name, body, reason string }{
		{"truncated order", msg("orders/create", `{"id":1,`), "order: not an order object"},
		{"negative id", msg("orders/create", `{"id":-7}`), "whole number"},
		{"invalid UTF-8 message", "{\"topic\":\"orders/create\",\"shopDomain\":\"s.myshopify.com\",\"webhookId\":\"w\",\"body\":\"\xff\"}", "not valid UTF-8"},
		{"redaction of another shop", msg("shop/redact", `{"shop_domain":"other.myshopify.com"}`), "differs from the webhook's shop"},
		{"not a queued webhook", `{"topic":1}`, "not a queued webhook"},
	}
	var records []events.SQSMessage
	for i, h := range hostile {
		records = append(records, events.SQSMessage{MessageId: fmt.Sprint("bad-", i), Body: h.body})
	}
	records = append(records, events.SQSMessage{MessageId: "good", Body: msg("orders/create", `{"id":5,"total_price":"2.00","currency":"EUR"}`)})
	var resp events.SQSEventResponse
	require.NotPanics(t, func() { resp, _ = c.Handle(context.Background(), events.SQSEvent{Records: records}) })
	assert.Empty(t, resp.BatchItemFailures)
	require.Len(t, pk.reasons, len(hostile))
	for i, h := range hostile {
		assert.Contains(t, pk.reasons[i], h.reason, h.name)
	}
	assert.Len(t, ps.sent, 1, "the valid order in the batch is pushed")
}
