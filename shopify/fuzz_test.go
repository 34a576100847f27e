package shopify_test

import (
	"testing"

	"github.com/delayed-push/delayed-push/shopify"
)

func FuzzParseOrder(f *testing.F) {
	for _, s := range []string{`{"id":1,"customer":{"id":2,"first_name":null},"line_items":[{"title":"a","quantity":2,"sku":null}]}`, `{"id":"1"}`, `{`, `{"id":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := shopify.ParseOrder(b)
		if err != nil {
			return
		}
		if o.ID == "" || o.LineItems == nil {
			t.Fatalf("accepted an order without id or line items: %+v", o)
		}
		if p := shopify.OrderPush("s.myshopify.com", "owner", o); p.Validate() != nil {
			t.Fatalf("the owner's push is invalid: %v", p.Validate())
		}
	})
}

func FuzzDecodeWebhook(f *testing.F) {
	f.Add([]byte(`{"topic":"orders/create","shopDomain":"a.myshopify.com","webhookId":"w","receivedAt":"2026-11-24T10:00:00Z","body":"{}"}`))
	f.Add([]byte(`{"topic":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := shopify.DecodeWebhook(b)
		if err == nil && (w.Topic == "" || w.WebhookID == "" || !shopify.ValidShopDomain(w.ShopDomain)) {
			t.Fatalf("accepted %+v", w)
		}
	})
}

func FuzzCompliance(f *testing.F) {
	f.Add("customers/redact", []byte(`{"shop_domain":"a.myshopify.com","customer":{"id":1},"orders_to_redact":[2]}`))
	f.Add("shop/redact", []byte(`{"shop_domain":"a.myshopify.com"}`))
	f.Add("customers/data_request", []byte(`{"shop_domain":"a.myshopify.com","data_request":{"id":1}}`))
	f.Fuzz(func(t *testing.T, topic string, b []byte) {
		if r, err := shopify.ParseRedaction(topic, b); err == nil && !shopify.ValidShopDomain(r.ShopDomain) {
			t.Fatalf("accepted a redaction for %q", r.ShopDomain)
		}
		_, _ = shopify.ParseDataRequest(b)
	})
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte(exampleBody), exampleSignature, []byte("hush"))
	f.Add([]byte(""), "", []byte(""))
	f.Fuzz(func(t *testing.T, body []byte, header string, secret []byte) {
		if shopify.Verify(body, header, secret) == nil && (len(secret) == 0 || header == "") {
			t.Fatal("verified without a secret or a signature")
		}
		if len(secret) > 0 && shopify.Verify(body, shopify.Sign(body, secret), secret) != nil {
			t.Fatal("its own signature does not verify")
		}
	})
}

func FuzzReadBodyFacts(f *testing.F) {
	f.Add("orders/create", []byte(`{"id":1,"updated_at":"2026-11-24T10:00:00Z","order_status_url":"https://a.myshopify.com/1/orders/x"}`))
	f.Add("orders/create", []byte(`{"order_status_url":"https://shop.example/1"}`))
	f.Add("shop/redact", []byte(`{"shop_domain":"a.myshopify.com"}`))
	f.Fuzz(func(t *testing.T, topic string, b []byte) {
		facts, err := shopify.ReadBodyFacts(topic, b)
		if err != nil {
			return
		}
		if facts.Shop != "" && !shopify.ValidShopDomain(facts.Shop) {
			t.Fatalf("named the shop %q", facts.Shop)
		}
		if (facts.TimeField == "") != facts.Time.IsZero() && facts.TimeField == "" {
			t.Fatalf("a time without its field: %+v", facts)
		}
	})
}
