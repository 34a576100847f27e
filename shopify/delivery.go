package shopify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// What a delivery says about itself, and what of that can be trusted.
//
// Shopify's "Webhooks delivery structure" (shopify.dev/docs/apps/build/webhooks/delivery-structure)
// lists the headers every delivery carries: X-Shopify-Topic, X-Shopify-Hmac-Sha256,
// X-Shopify-Shop-Domain ("the myshopify.com domain of the store that triggered the event"),
// X-Shopify-API-Version, X-Shopify-Webhook-Id ("a unique composite key per delivery. Use to
// identify and deduplicate individual deliveries"), X-Shopify-Triggered-At ("timestamp of when
// Shopify triggered the delivery") and X-Shopify-Event-Id ("a unique ID shared across all
// deliveries produced by the same merchant action"). The HMAC covers the body only: every header
// can be rewritten by whoever replays a captured body. So the order path relies on the body for
// what matters (which shop, how old) wherever the body says it, and on the headers only where
// the body is silent. ReadBodyFacts reads what the body says.

// HeaderEventID is the id shared by every delivery of one merchant action (one per
// subscription, and per topic the action triggers): Shopify's "Ignore duplicate webhooks"
// (shopify.dev/docs/apps/build/webhooks/ignore-duplicates) names it as the key of duplicates.
const HeaderEventID = "X-Shopify-Event-Id"

// MaxIDLength is the longest webhook or event id accepted (Shopify's are UUIDs or numbers).
const MaxIDLength = 256

// ValidID reports whether s may be a webhook or event id: 1 to MaxIDLength printable ASCII
// characters without spaces, quotes or backslashes (it becomes a table key and a log field).
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ParseTime reads a Shopify timestamp: RFC 3339 with or without fractional seconds and with
// an offset or Z, as in X-Shopify-Triggered-At ("2026-11-24T10:00:00.123456789Z") and the
// payloads' created_at and updated_at ("2026-11-24T05:10:03-05:00").
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// BodyFacts is what a signed body says of its shop and its age. The HMAC covers it: a replay
// cannot change it without the client secret.
type BodyFacts struct {
	// Shop is the shop's myshopify.com domain as the body names it: the privacy payloads'
	// shop_domain, or the host of an order's order_status_url when that is the shop's
	// myshopify.com domain. "" when the body names none.
	Shop string
	// OtherHost is the host of an order's order_status_url when it is not a myshopify.com
	// domain: the shop's own storefront domain, which cannot be tied to X-Shopify-Shop-Domain.
	OtherHost string
	// Time is the body's latest timestamp (an order's updated_at, else its created_at), and
	// TimeField its name; zero and "" when the body has none (the privacy payloads).
	Time      time.Time
	TimeField string
}

// ErrNotShopifyBody is wrapped by ReadBodyFacts' errors: a body that is not what Shopify sends
// for its topic.
var ErrNotShopifyBody = errors.New("the body is not what Shopify sends for its topic")

// ReadBodyFacts reads the shop and the time a body of a handled topic names.
//
//   - orders/create: the REST order payload. Its order_status_url is the order's status page
//     on the shop's primary domain, e.g. "https://jsmith.myshopify.com/548380009/orders/
//     123456abcd/authenticate?key=..." (the REST Order resource's example), or on the shop's
//     own domain when it has one ("https://shop.example/74407641366/orders/..."): only a
//     myshopify.com host names the shop. updated_at and created_at: Shopify delivers a
//     retried webhook "with the original payload from the time they were triggered" and
//     advises "the X-Shopify-Triggered-At timestamp in the header, or a timestamp from the
//     payload to determine if the payload is stale" (changelog "Updates to webhook retry
//     mechanism", 2024-09-10); the payload's updated_at is the signed time nearest the trigger.
//   - customers/redact, shop/redact, customers/data_request: shop_domain (required), no time.
//
// Other topics name nothing.
func ReadBodyFacts(topic string, body []byte) (BodyFacts, error) {
	var f BodyFacts
	bad := func(format string, args ...any) (BodyFacts, error) {
		return BodyFacts{}, fmt.Errorf("%w (%s): %s", ErrNotShopifyBody, topic, fmt.Sprintf(format, args...))
	}
	if !utf8.Valid(body) {
		return bad("not valid UTF-8")
	}
	switch topic {
	case TopicOrdersCreate:
		var o struct {
			CreatedAt      *string `json:"created_at"`
			UpdatedAt      *string `json:"updated_at"`
			OrderStatusURL *string `json:"order_status_url"`
		}
		if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			return bad("not an order object")
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&o); err != nil {
			return bad("not an order object: %v", err)
		}
		for _, field := range []struct {
			name string
			v    *string
		}{{"updated_at", o.UpdatedAt}, {"created_at", o.CreatedAt}} {
			if field.v == nil || *field.v == "" {
				continue
			}
			t, err := ParseTime(*field.v)
			if err != nil {
				return bad("%s: %v", field.name, err)
			}
			if f.TimeField == "" || t.After(f.Time) {
				f.Time, f.TimeField = t, field.name
			}
		}
		if o.OrderStatusURL != nil && *o.OrderStatusURL != "" {
			u, err := url.Parse(*o.OrderStatusURL)
			if err != nil || u.Scheme != "https" || u.Hostname() == "" {
				return bad("order_status_url %q is not an https URL", *o.OrderStatusURL)
			}
			host := strings.ToLower(u.Hostname())
			if strings.HasSuffix(host, ".myshopify.com") {
				if !ValidShopDomain(host) {
					return bad("order_status_url names %q, not a shop's myshopify.com domain", host)
				}
				f.Shop = host
			} else {
				f.OtherHost = host
			}
		}
	case TopicCustomersDataRequest, TopicCustomersRedact, TopicShopRedact:
		r, err := parseCompliance(topic, body)
		if err != nil {
			return bad("%v", err)
		}
		f.Shop = r.ShopDomain
	}
	return f, nil
}
