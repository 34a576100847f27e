package awsadapters_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/shopify"
)

func TestAnOrderRowExpiresAfterTheRetention(t *testing.T) {
	tbl := ddbfake.New("shopDomain", "orderId")
	key := map[string]types.AttributeValue{"shopDomain": sAttr("a.myshopify.com"), "orderId": sAttr("1")}
	o := &awsadapters.Orders{Client: tbl, Table: "orders"}
	_, _, err := o.Save(context.Background(), "a.myshopify.com", shopify.Order{ID: "1"}, "wh-1", now)
	require.NoError(t, err)
	assert.Equal(t, nAttr(fmt.Sprint(now.Add(90*24*time.Hour).Unix())), tbl.Get(key)["expiresAt"], "90 days by default")

	tbl = ddbfake.New("shopDomain", "orderId")
	o = &awsadapters.Orders{Client: tbl, Table: "orders", Retention: 7 * 24 * time.Hour}
	_, _, err = o.Save(context.Background(), "a.myshopify.com", shopify.Order{ID: "1"}, "wh-1", now)
	require.NoError(t, err)
	assert.Equal(t, nAttr(fmt.Sprint(now.Add(7*24*time.Hour).Unix())), tbl.Get(key)["expiresAt"])
	require.NoError(t, o.MarkPushQueued(context.Background(), "a.myshopify.com", "1", now.Add(time.Hour)))
	assert.Equal(t, nAttr(fmt.Sprint(now.Add(7*24*time.Hour).Unix())), tbl.Get(key)["expiresAt"], "the push mark does not move the expiry")
}

func webhookDelivery(id, shop, hash string) orders.Delivery {
	return orders.Delivery{WebhookID: id, EventID: "ev-1", Topic: "orders/create", ShopDomain: shop, BodySHA256: hash,
		TriggeredAt: now.Add(-time.Second), ReceivedAt: now, ExpiresAt: now.Add(25 * time.Hour)}
}

func TestAWebhookIDIsClaimedOnceQueued(t *testing.T) {
	ctx := context.Background()
	tbl := ddbfake.New("webhookId")
	w := &awsadapters.Webhooks{Client: tbl, Table: "webhooks"}
	d := webhookDelivery("wh-1", "a.myshopify.com", "h1")

	claimed, _, err := w.Claim(ctx, d)
	require.NoError(t, err)
	assert.True(t, claimed)
	item := tbl.Get(map[string]types.AttributeValue{"webhookId": sAttr("wh-1")})
	assert.Equal(t, sAttr("received"), item["state"])
	assert.Equal(t, nAttr(fmt.Sprint(now.Add(25*time.Hour).Unix())), item["expiresAt"], "the TTL attribute")
	assert.Equal(t, sAttr("ev-1"), item["eventId"])
	for _, attr := range []string{"body", "customer", "email"} {
		assert.NotContains(t, item, attr, "no body, no customer")
	}

	// Not queued yet: Shopify's retry of the same delivery claims it again.
	claimed, _, err = w.Claim(ctx, d)
	require.NoError(t, err)
	assert.True(t, claimed, "a retry after a failed queueing")

	// The same id with another shop, topic or body is not.
	for name, other := range map[string]orders.Delivery{
		"shop":  webhookDelivery("wh-1", "b.myshopify.com", "h1"),
		"body":  webhookDelivery("wh-1", "a.myshopify.com", "h2"),
		"topic": func() orders.Delivery { x := d; x.Topic = "shop/redact"; return x }(),
	} {
		claimed, old, err := w.Claim(ctx, other)
		require.NoError(t, err, name)
		assert.False(t, claimed, name)
		assert.Equal(t, "a.myshopify.com", old.ShopDomain, name)
		assert.Equal(t, "h1", old.BodySHA256, name)
		assert.False(t, old.Queued, name)
	}

	require.NoError(t, w.MarkQueued(ctx, "wh-1", now))
	claimed, old, err := w.Claim(ctx, d)
	require.NoError(t, err)
	assert.False(t, claimed, "queued: a duplicate")
	assert.True(t, old.Queued)
	assert.Equal(t, now, old.ReceivedAt)
	assert.Equal(t, now.Add(-time.Second), old.TriggeredAt)
	assert.Equal(t, now.Add(25*time.Hour), old.ExpiresAt)
	assert.Equal(t, "ev-1", old.EventID)

	require.NoError(t, w.MarkQueued(ctx, "wh-gone", now), "a record gone meanwhile: nothing to mark")
	assert.Nil(t, tbl.Get(map[string]types.AttributeValue{"webhookId": sAttr("wh-gone")}), "not created by the mark")
}

// Two deliveries of one id at once (Shopify's duplicate, a replay racing the original): the
// table decides, as DynamoDB's conditional put does.
func TestConcurrentClaimsOfAQueuedIDFindItTaken(t *testing.T) {
	ctx := context.Background()
	tbl := ddbfake.New("webhookId")
	w := &awsadapters.Webhooks{Client: tbl, Table: "webhooks"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			claimed, _, err := w.Claim(ctx, webhookDelivery("wh-race", fmt.Sprintf("s%d.myshopify.com", i), "h"))
			require.NoError(t, err)
			if claimed {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	assert.Equal(t, 1, wins, "one shop's claim wins; the others are another shop under the same id")
}

type failingPut struct {
	*ddbfake.Table
	err error
}

func (f failingPut) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, f.err
}

func TestAClaimThatFailsIsAnError(t *testing.T) {
	w := &awsadapters.Webhooks{Client: failingPut{ddbfake.New("webhookId"), errors.New("ProvisionedThroughputExceededException")}, Table: "webhooks"}
	_, _, err := w.Claim(context.Background(), webhookDelivery("wh-1", "a.myshopify.com", "h"))
	assert.ErrorContains(t, err, "ProvisionedThroughputExceededException")

	// A refused condition without the old item (the emulator): read it.
	tbl := ddbfake.New("webhookId")
	w = &awsadapters.Webhooks{Client: tbl, Table: "webhooks"}
	claimed, _, err := w.Claim(context.Background(), webhookDelivery("wh-2", "a.myshopify.com", "h"))
	require.NoError(t, err)
	require.True(t, claimed)
	require.NoError(t, w.MarkQueued(context.Background(), "wh-2", now))
	w = &awsadapters.Webhooks{Client: failingPut{tbl, &types.ConditionalCheckFailedException{}}, Table: "webhooks"}
	claimed, old, err := w.Claim(context.Background(), webhookDelivery("wh-2", "a.myshopify.com", "h"))
	require.NoError(t, err)
	assert.False(t, claimed)
	assert.True(t, old.Queued, "read with GetItem")
}
