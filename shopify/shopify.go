// Package shopify is the Shopify order path's contract: verifying a webhook's signature, the
// message the webhook receiver queues, parsing an order and the privacy (compliance) payloads,
// and the push that tells the shop owner about a new order.
package shopify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/delayed-push/delayed-push/push"
)

// Headers Shopify sends with every webhook.
const (
	HeaderHmac        = "X-Shopify-Hmac-Sha256"
	HeaderTopic       = "X-Shopify-Topic"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
	HeaderAPIVersion  = "X-Shopify-API-Version"
)

// Topics handled: new orders, and the mandatory privacy (compliance) topics.
const (
	TopicOrdersCreate         = "orders/create"
	TopicCustomersDataRequest = "customers/data_request"
	TopicCustomersRedact      = "customers/redact"
	TopicShopRedact           = "shop/redact"
)

// Handled reports whether a topic is one the order path acts on; others are answered 200 and
// dropped.
func Handled(topic string) bool {
	switch topic {
	case TopicOrdersCreate, TopicCustomersDataRequest, TopicCustomersRedact, TopicShopRedact:
		return true
	}
	return false
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("no X-Shopify-Hmac-Sha256 header")
	ErrBadSignature = errors.New("X-Shopify-Hmac-Sha256 does not match the body")
)

// Sign returns the X-Shopify-Hmac-Sha256 value Shopify sends for body: the base64 HMAC-SHA256
// of the raw body keyed with the app's client secret.
func Sign(body, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a signature against the raw body with each secret in turn (during a
// rotation Shopify may sign with the old one for a while), comparing in constant time.
func Verify(body []byte, header string, secrets ...[]byte) error {
	if strings.TrimSpace(header) == "" {
		return ErrNoSignature
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w (not a base64 SHA-256 digest)", ErrBadSignature)
	}
	ok := false
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write(body)
		// hmac.Equal is constant time; every secret is tried, so timing tells nothing.
		ok = hmac.Equal(got, m.Sum(nil)) || ok
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// Webhook is what the receiver puts on the orders queue: the raw body, unparsed, with the
// headers that say what it is.
type Webhook struct {
	Topic       string    `json:"topic"`
	ShopDomain  string    `json:"shopDomain"`
	WebhookID   string    `json:"webhookId"`
	TriggeredAt string    `json:"triggeredAt,omitempty"`
	APIVersion  string    `json:"apiVersion,omitempty"`
	ReceivedAt  time.Time `json:"receivedAt"`
	Body        string    `json:"body"`
}

// DecodeWebhook reads a queued webhook and checks the fields the consumer needs.
func DecodeWebhook(b []byte) (Webhook, error) {
	var w Webhook
	if !utf8.Valid(b) {
		return w, errors.New("not a queued webhook: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return w, fmt.Errorf("not a queued webhook: %v", err)
	}
	switch {
	case w.Topic == "":
		return w, errors.New("not a queued webhook: no topic")
	case !ValidShopDomain(w.ShopDomain):
		return w, fmt.Errorf("shop domain %q is not a myshopify.com domain", w.ShopDomain)
	case w.WebhookID == "":
		return w, errors.New("not a queued webhook: no webhookId")
	}
	return w, nil
}

// ValidShopDomain reports whether s is a shop's permanent domain, NAME.myshopify.com.
func ValidShopDomain(s string) bool {
	name, ok := strings.CutSuffix(s, ".myshopify.com")
	if !ok || name == "" || len(name) > 100 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Order is what the order path keeps of an orders/create payload.
type Order struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"` // "#1001"
	TotalPrice string     `json:"totalPrice"`
	Currency   string     `json:"currency"`
	CreatedAt  string     `json:"createdAt,omitempty"`
	Customer   *Customer  `json:"customer,omitempty"`
	LineItems  []LineItem `json:"lineItems"`
}

// Customer is the order's customer, when there is one.
type Customer struct {
	ID        string `json:"id"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
}

// LineItem is one line of an order.
type LineItem struct {
	Title    string `json:"title"`
	Quantity int    `json:"quantity"`
	Price    string `json:"price,omitempty"`
	SKU      string `json:"sku,omitempty"`
}

type rawOrder struct {
	ID         json.Number `json:"id"`
	Name       string      `json:"name"`
	TotalPrice string      `json:"total_price"`
	Currency   string      `json:"currency"`
	CreatedAt  string      `json:"created_at"`
	Customer   *struct {
		ID        json.Number `json:"id"`
		FirstName *string     `json:"first_name"`
		LastName  *string     `json:"last_name"`
		Email     *string     `json:"email"`
	} `json:"customer"`
	LineItems []struct {
		Title    string  `json:"title"`
		Quantity int     `json:"quantity"`
		Price    string  `json:"price"`
		SKU      *string `json:"sku"`
	} `json:"line_items"`
}

// ParseOrder reads an orders/create payload. Fields Shopify may leave out or null (the
// customer, a SKU, names) are optional; the order id is required.
func ParseOrder(body []byte) (Order, error) {
	if !utf8.Valid(body) {
		return Order{}, errors.New("order: not valid UTF-8")
	}
	var r rawOrder
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return Order{}, fmt.Errorf("order: not an order object: %v", err)
	}
	id, err := wholeNumber("id", r.ID)
	if err != nil {
		return Order{}, err
	}
	o := Order{ID: id, Name: r.Name, TotalPrice: r.TotalPrice, Currency: r.Currency, CreatedAt: r.CreatedAt, LineItems: []LineItem{}}
	if o.Name == "" {
		o.Name = "#" + id
	}
	if r.Customer != nil && r.Customer.ID != "" {
		cid, err := wholeNumber("customer.id", r.Customer.ID)
		if err != nil {
			return Order{}, err
		}
		o.Customer = &Customer{ID: cid, FirstName: deref(r.Customer.FirstName), LastName: deref(r.Customer.LastName), Email: deref(r.Customer.Email)}
	}
	for _, li := range r.LineItems {
		o.LineItems = append(o.LineItems, LineItem{Title: li.Title, Quantity: li.Quantity, Price: li.Price, SKU: deref(li.SKU)})
	}
	return o, nil
}

func wholeNumber(field string, n json.Number) (string, error) {
	s := n.String()
	if s == "" {
		return "", fmt.Errorf("order: %s is missing", field)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("order: %s must be a whole number, got %s", field, s)
		}
	}
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Redaction is a customers/redact or shop/redact request: delete the stored orders of one
// customer of the shop (CustomerID, and the ids in OrdersToRedact), or of the whole shop.
type Redaction struct {
	ShopDomain     string
	CustomerID     string   // "" for shop/redact
	OrdersToRedact []string // customers/redact only
}

// DataRequest is a customers/data_request: the shop owner asks what is stored of a customer.
type DataRequest struct {
	ShopDomain      string
	CustomerID      string
	OrdersRequested []string
	RequestID       string
}

type rawCompliance struct {
	ShopDomain string `json:"shop_domain"`
	Customer   *struct {
		ID json.Number `json:"id"`
	} `json:"customer"`
	OrdersToRedact  []json.Number `json:"orders_to_redact"`
	OrdersRequested []json.Number `json:"orders_requested"`
	DataRequest     *struct {
		ID json.Number `json:"id"`
	} `json:"data_request"`
}

func parseCompliance(topic string, body []byte) (rawCompliance, error) {
	var r rawCompliance
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%s: not a %s payload: %v", topic, topic, err)
	}
	if !ValidShopDomain(r.ShopDomain) {
		return r, fmt.Errorf("%s: shop_domain %q is not a myshopify.com domain", topic, r.ShopDomain)
	}
	return r, nil
}

// ParseRedaction reads a customers/redact or shop/redact payload.
func ParseRedaction(topic string, body []byte) (Redaction, error) {
	r, err := parseCompliance(topic, body)
	if err != nil {
		return Redaction{}, err
	}
	red := Redaction{ShopDomain: r.ShopDomain}
	if topic == TopicShopRedact {
		return red, nil
	}
	if r.Customer == nil || r.Customer.ID == "" {
		return Redaction{}, fmt.Errorf("%s: customer.id is missing", topic)
	}
	if red.CustomerID, err = wholeNumber("customer.id", r.Customer.ID); err != nil {
		return Redaction{}, fmt.Errorf("%s: %w", topic, err)
	}
	for _, n := range r.OrdersToRedact {
		id, err := wholeNumber("orders_to_redact", n)
		if err != nil {
			return Redaction{}, fmt.Errorf("%s: %w", topic, err)
		}
		red.OrdersToRedact = append(red.OrdersToRedact, id)
	}
	return red, nil
}

// ParseDataRequest reads a customers/data_request payload.
func ParseDataRequest(body []byte) (DataRequest, error) {
	r, err := parseCompliance(TopicCustomersDataRequest, body)
	if err != nil {
		return DataRequest{}, err
	}
	d := DataRequest{ShopDomain: r.ShopDomain}
	if r.Customer != nil {
		d.CustomerID = r.Customer.ID.String()
	}
	if r.DataRequest != nil {
		d.RequestID = r.DataRequest.ID.String()
	}
	for _, n := range r.OrdersRequested {
		d.OrdersRequested = append(d.OrdersRequested, n.String())
	}
	return d, nil
}

// PushID is the id of an order's push: one per shop and order, so a repeated webhook or a
// retried consumer never pushes twice (the sender sends one push id once per device).
func PushID(shop, orderID string) string {
	return "shopify-" + strings.TrimSuffix(shop, ".myshopify.com") + "-order-" + orderID
}

// OrderPush is the push that tells the shop owner about a new order.
func OrderPush(shop, owner string, o Order) push.Push {
	items := 0
	for _, li := range o.LineItems {
		items += li.Quantity
	}
	body := strings.TrimSpace(o.TotalPrice + " " + o.Currency)
	if c := o.Customer; c != nil && strings.TrimSpace(c.FirstName+" "+c.LastName) != "" {
		body += " from " + strings.TrimSpace(c.FirstName+" "+c.LastName)
	}
	count := fmt.Sprintf("%d item", items)
	if items != 1 {
		count += "s"
	}
	if body = strings.TrimSpace(body); body != "" {
		body += ", "
	}
	body += count
	return push.Push{
		ID:     PushID(shop, o.ID),
		UserID: owner,
		Title:  "New order " + o.Name,
		Body:   truncate(body, 200),
		Data:   map[string]string{"kind": "shopify-order", "shop": shop, "orderId": o.ID},
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
