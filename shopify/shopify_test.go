package shopify_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/shopify"
)

// The vectors were computed with Python's hmac module, as Shopify's documented example does
// (secret "hush"): base64.b64encode(hmac.new(b"hush", body, hashlib.sha256).digest()).
const (
	exampleBody      = `{"id":820982911946154508,"email":"jon@example.com","name":"#9999"}`
	exampleSignature = "GHRA62rRonufCGcinoJEGFXXDPAEMt9WRVI1Q51xtjw="
	emptySignature   = "Knm8rWjeSXNIt2H0AOMT7DQ8/YSy8sQi/pEjbuUmGMs="
)

func TestSignatureMatchesShopifysDocumentedComputation(t *testing.T) {
	assert.Equal(t, exampleSignature, shopify.Sign([]byte(exampleBody), []byte("hush")))
	assert.NoError(t, shopify.Verify([]byte(exampleBody), exampleSignature, []byte("hush")))
	assert.NoError(t, shopify.Verify(nil, emptySignature, []byte("hush")), "an empty body has a signature too")
}

func TestSignatureEdgeCases(t *testing.T) {
	body := []byte(exampleBody)
	for name, c := range map[string]struct {
		body    []byte
		header  string
		secrets [][]byte
		err     error
	}{
		"wrong secret":       {body, exampleSignature, [][]byte{[]byte("hush!")}, shopify.ErrBadSignature},
		"tampered body":      {[]byte(strings.Replace(exampleBody, "9999", "9998", 1)), exampleSignature, [][]byte{[]byte("hush")}, shopify.ErrBadSignature},
		"one more space":     {append(body, ' '), exampleSignature, [][]byte{[]byte("hush")}, shopify.ErrBadSignature},
		"missing header":     {body, "", [][]byte{[]byte("hush")}, shopify.ErrNoSignature},
		"blank header":       {body, "   ", [][]byte{[]byte("hush")}, shopify.ErrNoSignature},
		"not base64":         {body, "not base64!!", [][]byte{[]byte("hush")}, shopify.ErrBadSignature},
		"hex, not base64":    {body, "1874" + strings.Repeat("ab", 30), [][]byte{[]byte("hush")}, shopify.ErrBadSignature},
		"short digest":       {body, base64.StdEncoding.EncodeToString([]byte("short")), [][]byte{[]byte("hush")}, shopify.ErrBadSignature},
		"empty body, signed": {nil, exampleSignature, [][]byte{[]byte("hush")}, shopify.ErrBadSignature},
		"no secret at all":   {body, exampleSignature, nil, shopify.ErrBadSignature},
		"empty secret":       {body, shopify.Sign(body, nil), [][]byte{{}}, shopify.ErrBadSignature},
	} {
		err := shopify.Verify(c.body, c.header, c.secrets...)
		assert.ErrorIs(t, err, c.err, name)
	}
}

func TestARotatedSecretAcceptsTheOldAndTheNew(t *testing.T) {
	body := []byte(exampleBody)
	oldSig, newSig := shopify.Sign(body, []byte("old")), shopify.Sign(body, []byte("new"))
	for _, sig := range []string{oldSig, newSig} {
		assert.NoError(t, shopify.Verify(body, sig, []byte("new"), []byte("old")))
	}
	assert.ErrorIs(t, shopify.Verify(body, oldSig, []byte("new")), shopify.ErrBadSignature, "once the old one is dropped")
}

func TestParseARealisticOrder(t *testing.T) {
	raw, err := os.ReadFile("testdata/orders_create.json")
	require.NoError(t, err)
	o, err := shopify.ParseOrder(raw)
	require.NoError(t, err)
	assert.Equal(t, "820982911946154508", o.ID, "64-bit ids are kept exactly")
	assert.Equal(t, "#9999", o.Name)
	assert.Equal(t, "403.00", o.TotalPrice)
	assert.Equal(t, "USD", o.Currency)
	assert.Equal(t, &shopify.Customer{ID: "115310627314723954", FirstName: "John", LastName: "Smith", Email: "john@example.com"}, o.Customer)
	assert.Equal(t, []shopify.LineItem{
		{Title: "IPod Nano - 8GB", Quantity: 1, Price: "199.00", SKU: "IPOD2008PINK"},
		{Title: "IPod Nano - 8GB", Quantity: 1, Price: "199.00"},
	}, o.LineItems)

	p := shopify.OrderPush("jsmith.myshopify.com", "owner-1", o)
	assert.Equal(t, "shopify-jsmith-order-820982911946154508", p.ID)
	assert.Equal(t, "New order #9999", p.Title)
	assert.Equal(t, "403.00 USD from John Smith, 2 items", p.Body)
	assert.NoError(t, p.Validate(), "a push the sender takes")
}

func TestParseAnOrderWithOptionalFieldsAbsent(t *testing.T) {
	raw, err := os.ReadFile("testdata/orders_create_minimal.json")
	require.NoError(t, err)
	o, err := shopify.ParseOrder(raw)
	require.NoError(t, err)
	assert.Equal(t, "450789469", o.ID)
	assert.Equal(t, "#450789469", o.Name, "no name: the id stands in")
	assert.Nil(t, o.Customer)
	p := shopify.OrderPush("shop.myshopify.com", "owner", o)
	assert.Equal(t, "12.50 EUR, 3 items", p.Body)

	o, err = shopify.ParseOrder([]byte(`{"id":1}`))
	require.NoError(t, err)
	assert.Equal(t, []shopify.LineItem{}, o.LineItems)
	assert.Equal(t, "0 items", shopify.OrderPush("s.myshopify.com", "u", o).Body)
}

func TestUnparseableOrdersSayWhy(t *testing.T) {
	for body, want := range map[string]string{
		``:                               "order: not an order object",
		`[]`:                             "order: not an order object",
		`{"id":"abc"}`:                   "order: not an order object",
		`{"name":"#1"}`:                  "order: id is missing",
		`{"id":-5}`:                      "order: id must be a whole number, got -5",
		`{"id":1.5}`:                     "order: id must be a whole number, got 1.5",
		`{"id":1,"customer":{"id":"x"}}`: "order: not an order object",
		"{\"id\":1,\"name\":\"\xff\"}":   "order: not valid UTF-8",
		`{"id":1,"line_items":{}}`:       "order: not an order object",
	} {
		_, err := shopify.ParseOrder([]byte(body))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
}

func TestCompliancePayloads(t *testing.T) {
	r, err := shopify.ParseRedaction(shopify.TopicCustomersRedact, []byte(
		`{"shop_id":954889,"shop_domain":"jsmith.myshopify.com","customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263,220458]}`))
	require.NoError(t, err)
	assert.Equal(t, shopify.Redaction{ShopDomain: "jsmith.myshopify.com", CustomerID: "191167", OrdersToRedact: []string{"299938", "280263", "220458"}}, r)

	r, err = shopify.ParseRedaction(shopify.TopicShopRedact, []byte(`{"shop_id":954889,"shop_domain":"jsmith.myshopify.com"}`))
	require.NoError(t, err)
	assert.Equal(t, shopify.Redaction{ShopDomain: "jsmith.myshopify.com"}, r)

	d, err := shopify.ParseDataRequest([]byte(`{"shop_id":954889,"shop_domain":"jsmith.myshopify.com","orders_requested":[299938],"customer":{"id":191167},"data_request":{"id":9999}}`))
	require.NoError(t, err)
	assert.Equal(t, shopify.DataRequest{ShopDomain: "jsmith.myshopify.com", CustomerID: "191167", OrdersRequested: []string{"299938"}, RequestID: "9999"}, d)

	_, err = shopify.ParseRedaction(shopify.TopicCustomersRedact, []byte(`{"shop_domain":"jsmith.myshopify.com"}`))
	assert.EqualError(t, err, "customers/redact: customer.id is missing")
	_, err = shopify.ParseRedaction(shopify.TopicShopRedact, []byte(`{"shop_domain":"evil.example.com"}`))
	assert.EqualError(t, err, `shop/redact: shop_domain "evil.example.com" is not a myshopify.com domain`)
}

func TestQueuedWebhooksAreChecked(t *testing.T) {
	w, err := shopify.DecodeWebhook([]byte(`{"topic":"orders/create","shopDomain":"a-1.myshopify.com","webhookId":"w-1","receivedAt":"2026-11-24T10:00:00Z","body":"{}"}`))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), w.ReceivedAt)
	for body, want := range map[string]string{
		`{"topic":"orders/create","shopDomain":"a.myshopify.com","body":"{}"}`:               "no webhookId",
		`{"shopDomain":"a.myshopify.com","webhookId":"w","body":"{}"}`:                       "no topic",
		`{"topic":"orders/create","shopDomain":"A.myshopify.com","webhookId":"w"}`:           `shop domain "A.myshopify.com"`,
		`{"topic":"orders/create","shopDomain":"a.myshopify.com","webhookId":"w","extra":1}`: "unknown field",
		`nope`: "not a queued webhook",
	} {
		_, err := shopify.DecodeWebhook([]byte(body))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
	assert.True(t, shopify.Handled("orders/create"))
	assert.False(t, shopify.Handled("orders/updated"))
}

func TestBodyFactsNameTheShopAndTheTimeOnlyWhereTheSignedBodySaysThem(t *testing.T) {
	b, err := os.ReadFile("testdata/orders_create.json")
	require.NoError(t, err)
	f, err := shopify.ReadBodyFacts(shopify.TopicOrdersCreate, b)
	require.NoError(t, err)
	assert.Equal(t, "jsmith.myshopify.com", f.Shop, "the host of order_status_url")
	assert.Equal(t, time.Date(2026, 11, 24, 10, 10, 3, 0, time.UTC), f.Time)
	assert.Equal(t, "updated_at", f.TimeField)

	f, err = shopify.ReadBodyFacts(shopify.TopicOrdersCreate, []byte(`{"id":1,"created_at":"2026-11-24T10:00:00Z","updated_at":"2026-11-24T09:00:00Z",`+
		`"order_status_url":"https://www.shop.example/74407641366/orders/abc/authenticate?key=k"}`))
	require.NoError(t, err)
	assert.Equal(t, shopify.BodyFacts{OtherHost: "www.shop.example", Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), TimeField: "created_at"}, f,
		"a custom domain names no shop; the latest signed time counts")

	f, err = shopify.ReadBodyFacts(shopify.TopicOrdersCreate, []byte(`{"id":1,"created_at":null,"order_status_url":null}`))
	require.NoError(t, err)
	assert.Equal(t, shopify.BodyFacts{}, f, "nothing said, nothing known")

	f, err = shopify.ReadBodyFacts(shopify.TopicShopRedact, []byte(`{"shop_id":1,"shop_domain":"jsmith.myshopify.com"}`))
	require.NoError(t, err)
	assert.Equal(t, shopify.BodyFacts{Shop: "jsmith.myshopify.com"}, f, "the privacy payloads carry no time")

	f, err = shopify.ReadBodyFacts("products/update", []byte(`not even JSON`))
	require.NoError(t, err)
	assert.Equal(t, shopify.BodyFacts{}, f, "topics not handled are not read")

	for body, want := range map[string]string{
		`[]`:                                "not an order object",
		` null`:                             "not an order object",
		`{"created_at":"2026-11-24 10:00"}`: "created_at",
		`{"updated_at":"Tue, 24 Nov 2026"}`: "updated_at",
		`{"order_status_url":"ftp://a.myshopify.com/x"}`:                 "not an https URL",
		`{"order_status_url":"https:///x"}`:                              "not an https URL",
		`{"order_status_url":"https://-.myshopify.com.myshopify.com/x"}`: "not a shop's myshopify.com domain",
		"{\"id\":\"\xff\"}": "not valid UTF-8",
	} {
		_, err := shopify.ReadBodyFacts(shopify.TopicOrdersCreate, []byte(body))
		assert.ErrorIs(t, err, shopify.ErrNotShopifyBody, body)
		assert.ErrorContains(t, err, want, body)
	}
	_, err = shopify.ReadBodyFacts(shopify.TopicCustomersRedact, []byte(`{"shop_domain":"evil.example.com"}`))
	assert.ErrorContains(t, err, "not a myshopify.com domain")
}

func TestIDsAndTimes(t *testing.T) {
	for _, id := range []string{"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "1", "wh:1/2@x+y=z", strings.Repeat("a", shopify.MaxIDLength)} {
		assert.True(t, shopify.ValidID(id), id)
	}
	for _, id := range []string{"", " ", "a b", `a"b`, `a\b`, "a\tb", "é", "\x7f", strings.Repeat("a", shopify.MaxIDLength+1)} {
		assert.False(t, shopify.ValidID(id), id)
	}
	for s, want := range map[string]time.Time{
		"2026-11-24T10:00:00.123456789Z": time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC),
		"2026-11-24T05:10:03-05:00":      time.Date(2026, 11, 24, 10, 10, 3, 0, time.UTC),
		" 2026-11-24T10:00:00Z ":         time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
	} {
		got, err := shopify.ParseTime(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "1732442400", "2026-11-24", "2026-11-24T10:00:00", "Tue, 24 Nov 2026 10:00:00 GMT", "2026-13-01T00:00:00Z"} {
		_, err := shopify.ParseTime(s)
		assert.Error(t, err, s)
	}
}
