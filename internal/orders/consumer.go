package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/shopify"
)

// Stored is what the orders table holds of a saved order, as far as the consumer reads it.
type Stored struct {
	OrderID      string
	CustomerID   string
	WebhookID    string
	PushQueuedAt string
}

// Store is the orders table: partition key shopDomain, sort key orderId.
type Store interface {
	// Save writes the order unless the shop already has it; then it returns the stored one.
	Save(ctx context.Context, shop string, o shopify.Order, webhookID string, now time.Time) (saved bool, existing Stored, err error)
	// MarkPushQueued records that the owner's push is on the push queue.
	MarkPushQueued(ctx context.Context, shop, orderID string, now time.Time) error
	// List returns the shop's stored orders.
	List(ctx context.Context, shop string) ([]Stored, error)
	// Delete removes orders of the shop.
	Delete(ctx context.Context, shop string, orderIDs []string) error
}

// Pushes puts a push on the push queue.
type Pushes interface {
	Send(ctx context.Context, p push.Push) error
}

// Parker puts a message the consumer cannot use on the orders dead-letter queue, with the
// reason.
type Parker interface {
	Park(ctx context.Context, body, reason string) error
}

// Consumer drains the orders queue (SQS batch, partial batch failures).
type Consumer struct {
	Store  Store
	Pushes Pushes
	Parker Parker
	// Owners maps a shop's domain to the user id of its owner, who gets a push per order.
	Owners map[string]string
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics receives each batch's OrdersSaved, Parked and TransientFailures (EMF).
	Metrics *metrics.Emitter
}

// errPark marks a message no retry can fix.
type errPark struct{ reason string }

func (e *errPark) Error() string { return e.reason }

func park(format string, args ...any) error { return &errPark{fmt.Sprintf(format, args...)} }

// Handle processes a batch: a message that cannot be used is parked with its reason (and
// counts as done); a failure that a retry may fix is a batch item failure. One log line per
// message, with its webhook id.
func (c *Consumer) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	saved, parked := 0.0, 0.0
	defer func() {
		_ = c.Metrics.Emit(map[string]float64{metrics.OrdersSaved: saved, metrics.Parked: parked,
			metrics.TransientFailures: float64(len(resp.BatchItemFailures))}, nil)
	}()
	for _, m := range ev.Records {
		log := c.logger().With("messageId", m.MessageId)
		did, err := c.handle(ctx, m.Body, log)
		var p *errPark
		switch {
		case errors.As(err, &p):
			if perr := c.Parker.Park(ctx, m.Body, p.reason); perr != nil {
				log.ErrorContext(ctx, "could not park the message, will retry", "reason", p.reason, "error", perr.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			parked++
			log.WarnContext(ctx, "order message parked in the dead-letter queue", "reason", p.reason)
		case err != nil:
			log.WarnContext(ctx, "order message failed, will retry", "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		default:
			if slices.Contains(did, any("saved and pushed")) || slices.Contains(did, any("saved; no push: no owner is configured for this shop")) {
				saved++
			}
			log.InfoContext(ctx, "order message done", did...)
		}
	}
	return resp, nil
}

func (c *Consumer) handle(ctx context.Context, body string, log *slog.Logger) ([]any, error) {
	w, err := shopify.DecodeWebhook([]byte(body))
	if err != nil {
		return nil, park("%v", err)
	}
	attrs := []any{"topic", w.Topic, "shop", w.ShopDomain, "webhookId", w.WebhookID}
	switch w.Topic {
	case shopify.TopicOrdersCreate:
		more, err := c.order(ctx, w)
		return append(attrs, more...), err
	case shopify.TopicCustomersRedact, shopify.TopicShopRedact:
		r, err := shopify.ParseRedaction(w.Topic, []byte(w.Body))
		if err != nil {
			return nil, park("%v", err)
		}
		if r.ShopDomain != w.ShopDomain {
			return nil, park("%s: shop_domain %q differs from the webhook's shop %q", w.Topic, r.ShopDomain, w.ShopDomain)
		}
		n, err := c.redact(ctx, r)
		return append(attrs, "action", "redacted", "ordersDeleted", n), err
	case shopify.TopicCustomersDataRequest:
		d, err := shopify.ParseDataRequest([]byte(w.Body))
		if err != nil {
			return nil, park("%v", err)
		}
		list, err := c.Store.List(ctx, d.ShopDomain)
		if err != nil {
			return nil, err
		}
		held := 0
		for _, o := range list {
			if d.CustomerID != "" && o.CustomerID == d.CustomerID {
				held++
			}
		}
		// The orders table is the only place an order's customer data is kept; the shop owner
		// reads it there (docs/shopify.md).
		return append(attrs, "action", "data request noted", "dataRequestId", d.RequestID, "ordersHeld", held), nil
	}
	return append(attrs, "action", "ignored: topic not handled"), nil
}

// order saves a new order, then queues the owner's push: in that order, so a push always
// names a saved order. Repeats of a webhook (Shopify's retries, duplicates) find the order
// saved and its push queued, and do nothing; a repeat after a crash between the two steps
// queues the push again under the same push id, which the sender sends once per device.
func (c *Consumer) order(ctx context.Context, w shopify.Webhook) ([]any, error) {
	o, err := shopify.ParseOrder([]byte(w.Body))
	if err != nil {
		return nil, park("%v", err)
	}
	// The receiver refuses an order whose signed body names another shop than the webhook's
	// header; this holds for whatever else reaches the queue (a redrive, an older receiver).
	facts, err := shopify.ReadBodyFacts(w.Topic, []byte(w.Body))
	if err != nil {
		return nil, park("%v", err)
	}
	if facts.Shop != "" && facts.Shop != w.ShopDomain {
		return nil, park("%s: order_status_url names the shop %q, not the webhook's shop %q", w.Topic, facts.Shop, w.ShopDomain)
	}
	attrs := []any{"orderId", o.ID}
	saved, existing, err := c.Store.Save(ctx, w.ShopDomain, o, w.WebhookID, c.now())
	if err != nil {
		return attrs, fmt.Errorf("saving order %s of %s: %w", o.ID, w.ShopDomain, err)
	}
	if !saved {
		attrs = append(attrs, "duplicate", true, "firstWebhookId", existing.WebhookID)
		if existing.PushQueuedAt != "" {
			return append(attrs, "action", "none: order saved and pushed before"), nil
		}
	}
	owner := c.Owners[w.ShopDomain]
	if owner == "" {
		return append(attrs, "action", "saved; no push: no owner is configured for this shop"), nil
	}
	p := shopify.OrderPush(w.ShopDomain, owner, o)
	if err := c.Pushes.Send(ctx, p); err != nil {
		return attrs, fmt.Errorf("queueing the owner's push: %w", err)
	}
	if err := c.Store.MarkPushQueued(ctx, w.ShopDomain, o.ID, c.now()); err != nil {
		return attrs, fmt.Errorf("recording the owner's push: %w", err)
	}
	return append(attrs, "action", "saved and pushed", "pushId", p.ID, "userId", owner), nil
}

// redact deletes the orders of a customer (those it names and those stored with its id), or
// every order of the shop.
func (c *Consumer) redact(ctx context.Context, r shopify.Redaction) (int, error) {
	list, err := c.Store.List(ctx, r.ShopDomain)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, o := range list {
		if r.CustomerID == "" || o.CustomerID == r.CustomerID || slices.Contains(r.OrdersToRedact, o.OrderID) {
			ids = append(ids, o.OrderID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), c.Store.Delete(ctx, r.ShopDomain, ids)
}

func (c *Consumer) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Consumer) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
