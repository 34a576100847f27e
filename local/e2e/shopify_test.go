//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/local/localdeploy"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/shopify"
)

// The Shopify order path on the local stack (configured in the Makefile's LOCAL_CONFIG with
// owners for local-shop and other-shop): Shopify's part is played by the test, which signs
// with the client secret read from Secrets Manager as a developer would.

const (
	localShop = "local-shop.myshopify.com"
	otherShop = "other-shop.myshopify.com"
	// shopifyDeadline is how long Shopify waits for an answer.
	shopifyDeadline = 5 * time.Second
)

var orderSeq atomic.Int64

func init() { orderSeq.Store(time.Now().UnixNano() % 1e12 * 1000) }

func nextOrderID() string { return fmt.Sprint(orderSeq.Add(1)) }

func shopifySecret(t *testing.T) string {
	t.Helper()
	sm := secretsmanager.NewFromConfig(localdeploy.NewConfig(stack.Endpoint, "us-east-1"))
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(output(t, "ShopifySecretArn"))})
	require.NoError(t, err)
	return aws.ToString(out.SecretString)
}

func webhookURL(t *testing.T) string { return apiURL(t) + "/shopify/webhooks" }

func orderJSON(id string, customer int) string {
	return fmt.Sprintf(`{"id":%s,"name":"#%s","total_price":"24.90","currency":"EUR","customer":{"id":%d,"first_name":"Mina","last_name":"Kim"},`+
		`"line_items":[{"title":"Mug","quantity":2,"price":"12.45","sku":null}]}`, id, id, customer)
}

// postWebhook sends a webhook as Shopify would; secret "" sends it unsigned.
func postWebhook(t *testing.T, topic, shop, webhookID, body, secret string) (int, string, time.Duration) {
	t.Helper()
	h := shopifyHeaders(topic, shop, webhookID, time.Now())
	h[shopify.HeaderAPIVersion] = "2026-10"
	if secret != "" {
		h[shopify.HeaderHmac] = shopify.Sign([]byte(body), []byte(secret))
	}
	return postShopify(t, body, h)
}

// shopifyHeaders are the headers every Shopify webhook comes with (its signature aside).
func shopifyHeaders(topic, shop, webhookID string, triggeredAt time.Time) map[string]string {
	return map[string]string{
		"Content-Type":            "application/json",
		shopify.HeaderTopic:       topic,
		shopify.HeaderShopDomain:  shop,
		shopify.HeaderWebhookID:   webhookID,
		shopify.HeaderTriggeredAt: triggeredAt.UTC().Format(time.RFC3339Nano),
	}
}

// postShopify posts body to the webhook route with exactly these headers and returns the
// answer and how long it took.
func postShopify(t *testing.T, body string, headers map[string]string) (int, string, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, webhookURL(t), strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

func storedOrder(t *testing.T, shop, id string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := stack.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(output(t, "OrdersTableName")), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"shopDomain": &ddbtypes.AttributeValueMemberS{Value: shop}, "orderId": &ddbtypes.AttributeValueMemberS{Value: id}},
	})
	require.NoError(t, err)
	return out.Item
}

func waitOrder(t *testing.T, shop, id string, pushed bool) map[string]ddbtypes.AttributeValue {
	t.Helper()
	var item map[string]ddbtypes.AttributeValue
	require.NoError(t, localrun.Poll(context.Background(), 60*time.Second, 200*time.Millisecond, func() (bool, error) {
		item = storedOrder(t, shop, id)
		_, queued := item["pushQueuedAt"]
		return item != nil && (!pushed || queued), nil
	}), "order %s of %s", id, shop)
	return item
}

func countOrders(t *testing.T, shop string) int {
	t.Helper()
	n := 0
	pages := dynamodb.NewQueryPaginator(stack.DynamoDB, &dynamodb.QueryInput{
		TableName: aws.String(output(t, "OrdersTableName")), KeyConditionExpression: aws.String("shopDomain = :s"), Select: ddbtypes.SelectCount,
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: shop}}, ConsistentRead: aws.Bool(true),
	})
	for pages.HasMorePages() {
		p, err := pages.NextPage(context.Background())
		require.NoError(t, err)
		n += int(p.Count)
	}
	return n
}

// warmWebhook starts every execution environment the local stack runs the webhook function
// in, before a test holds answers to Shopify's deadline: a cold start here runs the Go runtime
// under qemu, seconds on a busy machine, where Lambda starts a Go function in a fraction of a
// second. Unsigned requests, twice as many at once as there are environments: each is refused
// (401) and changes nothing.
func warmWebhook(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, _ := postWebhook(t, shopify.TopicOrdersCreate, localShop, name("warm-up"), orderJSON("1", 1), "")
			assert.Equal(t, http.StatusUnauthorized, status)
		}()
	}
	wg.Wait()
}

func TestASignedOrderWebhookGivesOneOrderAndOnePushToTheOwner(t *testing.T) {
	secret := shopifySecret(t)
	warmWebhook(t)
	phone := register(t, deviceClient(t), "local-shop-owner", name("owner-phone"), "")
	id := nextOrderID()
	body := orderJSON(id, 7001)
	status, answer, took := postWebhook(t, shopify.TopicOrdersCreate, localShop, name("wh-"+id), body, secret)
	require.Equal(t, http.StatusOK, status, answer)
	assert.Contains(t, answer, `"status":"queued"`)
	assert.Less(t, took, shopifyDeadline)

	item := waitOrder(t, localShop, id, true)
	assert.Equal(t, "#"+id, item["name"].(*ddbtypes.AttributeValueMemberS).Value)
	assert.Equal(t, "7001", item["customerId"].(*ddbtypes.AttributeValueMemberS).Value)
	got, _, err := stack.WaitForDeliveries(context.Background(), phone.EndpointARN, 1, 60*time.Second)
	require.NoError(t, err)
	msg := fcmMessage(t, got[0])
	assert.Equal(t, "New order #"+id, msg["notification"].(map[string]any)["title"])
	assert.Equal(t, "24.90 EUR from Mina Kim, 2 items", msg["notification"].(map[string]any)["body"])
	assert.Equal(t, shopify.PushID(localShop, id), msg["data"].(map[string]any)["pushId"])

	// Shopify's retry of the same webhook, and a duplicate under another id: 200, nothing new.
	saved := item["savedAt"]
	for _, wh := range []string{name("wh-" + id), name("wh-dup-" + id)} {
		status, _, _ = postWebhook(t, shopify.TopicOrdersCreate, localShop, wh, body, secret)
		assert.Equal(t, http.StatusOK, status)
	}
	reports := senderFinished(t, shopify.PushID(localShop, id), 1, 60*time.Second)
	assert.Equal(t, "sent", reports[0].Outcome)
	// The retry was refused at once (its webhook id was seen); the orders function is done
	// with the duplicate when it logs it, and it queued nothing.
	waitFunctionLog(t, `"msg":"order message done"`, `"webhookId":"`+name("wh-dup-"+id)+`"`, `"action":"none: order saved and pushed before"`)
	assert.Equal(t, saved, storedOrder(t, localShop, id)["savedAt"], "the order was not written again")
	assert.Equal(t, 1, received(t, phone.EndpointARN), "one push")
}

func TestAnUnsignedOrTamperedWebhookIsRejectedAndLeavesNoTrace(t *testing.T) {
	secret := shopifySecret(t)
	id := nextOrderID()
	body := orderJSON(id, 1)
	for name, sig := range map[string]string{"unsigned": "", "wrong secret": secret + "x"} {
		status, answer, _ := postWebhook(t, shopify.TopicOrdersCreate, localShop, "wh-bad-"+id, body, sig)
		assert.Equal(t, http.StatusUnauthorized, status, name)
		assert.Contains(t, answer, `"code":"unauthorized"`, name)
	}
	// Signed for the body Shopify sent, delivered with another.
	status, answer, _ := postTampered(t, body, strings.Replace(body, "24.90", "0.01", 1), secret)
	assert.Equal(t, http.StatusUnauthorized, status, answer)
	// A signed order sent after them, to a shop without an owner (no push), goes the same way
	// (the queue, the orders function): once it is saved, anything of theirs would be too.
	after, shop := nextOrderID(), "after-"+strings.ToLower(runID)+".myshopify.com"
	status, answer, _ = postWebhook(t, shopify.TopicOrdersCreate, shop, name("wh-after-"+after), orderJSON(after, 1), secret)
	require.Equal(t, http.StatusOK, status, answer)
	waitOrder(t, shop, after, false)
	assert.Nil(t, storedOrder(t, localShop, id), "nothing saved")
}

func postTampered(t *testing.T, signedBody, sentBody, secret string) (int, string, time.Duration) {
	t.Helper()
	return postShopify(t, sentBody, map[string]string{
		shopify.HeaderTopic:      shopify.TopicOrdersCreate,
		shopify.HeaderShopDomain: localShop,
		shopify.HeaderWebhookID:  "wh-tampered",
		shopify.HeaderHmac:       shopify.Sign([]byte(signedBody), []byte(secret)),
	})
}

func TestABurstOf200WebhooksIsAnsweredInTimeAndGives200OrdersAnd200Pushes(t *testing.T) {
	secret := shopifySecret(t)
	phone := register(t, deviceClient(t), "other-shop-owner", name("burst-phone"), "")
	before := countOrders(t, otherShop)
	warmWebhook(t)
	const n, workers = 200, 20
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		ids <- nextOrderID()
	}
	close(ids)
	var mu sync.Mutex
	var slowest time.Duration
	failures := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				status, _, took := postWebhook(t, shopify.TopicOrdersCreate, otherShop, name("burst-"+id), orderJSON(id, 42), secret)
				mu.Lock()
				if status != http.StatusOK || took >= shopifyDeadline {
					failures++
				}
				slowest = max(slowest, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("200 webhooks answered, slowest in %s", slowest.Round(time.Millisecond))
	assert.Zero(t, failures, "every webhook answered 200 within %s", shopifyDeadline)

	require.NoError(t, localrun.Poll(context.Background(), 120*time.Second, time.Second, func() (bool, error) {
		return countOrders(t, otherShop)-before >= n, nil
	}), "200 orders saved, got %d", countOrders(t, otherShop)-before)
	got, _, err := stack.WaitForDeliveries(context.Background(), phone.EndpointARN, n, 180*time.Second)
	require.NoError(t, err, "200 pushes on the owner's phone")
	seen := map[string]bool{}
	for _, d := range got {
		seen[fcmMessage(t, d)["data"].(map[string]any)["pushId"].(string)] = true
	}
	assert.Len(t, seen, n, "200 different pushes, none twice")
	// The sender is finished with every one of them: nothing more is coming.
	var pushIDs []string
	for id := range seen {
		pushIDs = append(pushIDs, id)
	}
	allFinished(t, pushIDs, 60*time.Second)
	assert.Equal(t, n, received(t, phone.EndpointARN), "nothing more")
	assert.Equal(t, n, countOrders(t, otherShop)-before)
}

func TestPrivacyWebhooksDeleteTheCustomersAndTheShopsOrders(t *testing.T) {
	secret := shopifySecret(t)
	shop := "redact-" + strings.ToLower(runID) + ".myshopify.com"
	ids := []string{nextOrderID(), nextOrderID(), nextOrderID()}
	for i, id := range ids {
		status, answer, _ := postWebhook(t, shopify.TopicOrdersCreate, shop, name("p-"+id), orderJSON(id, 100+i%2), secret)
		require.Equal(t, http.StatusOK, status, answer)
	}
	for _, id := range ids {
		waitOrder(t, shop, id, false)
	}
	// customer 100 holds orders 0 and 2.
	status, _, _ := postWebhook(t, shopify.TopicCustomersRedact, shop, name("redact-c"),
		fmt.Sprintf(`{"shop_id":1,"shop_domain":%q,"customer":{"id":100,"email":"mina@example.com"},"orders_to_redact":[%s]}`, shop, ids[0]), secret)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, localrun.Poll(context.Background(), 60*time.Second, 200*time.Millisecond, func() (bool, error) {
		return storedOrder(t, shop, ids[0]) == nil && storedOrder(t, shop, ids[2]) == nil, nil
	}))
	assert.NotNil(t, storedOrder(t, shop, ids[1]), "another customer's order stays")

	status, _, _ = postWebhook(t, shopify.TopicShopRedact, shop, name("redact-s"), fmt.Sprintf(`{"shop_id":1,"shop_domain":%q}`, shop), secret)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, localrun.Poll(context.Background(), 60*time.Second, 200*time.Millisecond, func() (bool, error) {
		return countOrders(t, shop) == 0, nil
	}))

	// A topic the path does not handle: 200, nothing done.
	status, answer, _ := postWebhook(t, "products/update", shop, name("ignored"), `{"id":1}`, secret)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, answer, `"status":"ignored"`)
}

func TestExampleShopifyWebhook(t *testing.T) {
	id := nextOrderID()
	cmd := exec.Command("bash", "examples/shopify-webhook.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "WEBHOOK_URL="+webhookURL(t), "SHOPIFY_SECRET="+shopifySecret(t), "SHOP="+localShop, "ORDER_ID="+id)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var answer map[string]string
	require.NoError(t, json.Unmarshal(out, &answer), "%s", out)
	assert.Equal(t, "queued", answer["status"])
	waitOrder(t, localShop, id, true)
}

// signedOrderJSON is an order as Shopify's payload names its shop and time: order_status_url
// on the shop's myshopify.com domain, created_at and updated_at.
func signedOrderJSON(shop, id string, at time.Time) string {
	return fmt.Sprintf(`{"id":%s,"name":"#%s","total_price":"99.00","currency":"EUR","created_at":%q,"updated_at":%q,`+
		`"order_status_url":"https://%s/548380009/orders/%s/authenticate?key=k","customer":{"id":7002,"first_name":"Ada","last_name":"Lee"},`+
		`"line_items":[{"title":"Lamp","quantity":1,"price":"99.00"}]}`, id, id, at.Format(time.RFC3339), at.Format(time.RFC3339), shop, id)
}

// postDelivery sends body with exactly these Shopify headers (and the signature of body).
func postDelivery(t *testing.T, topic, shop, webhookID string, triggeredAt time.Time, body, secret string) (int, string) {
	t.Helper()
	h := shopifyHeaders(topic, shop, webhookID, triggeredAt)
	h[shopify.HeaderHmac] = shopify.Sign([]byte(body), []byte(secret))
	status, answer, _ := postShopify(t, body, h)
	return status, answer
}

func noReport(t *testing.T, pushID string) {
	t.Helper()
	reports, err := localrun.SenderReports(logPath, pushID)
	require.NoError(t, err)
	assert.Empty(t, reports, "no push %s", pushID)
}

// Issue #18: a captured, signed webhook replayed as it was, under its id with another order's
// body, under another shop's header, or a day later, changes nothing: no order row, no push.
func TestShopifyReplayedStaleOrCrossShopWebhooksChangeNothing(t *testing.T) {
	secret := shopifySecret(t)
	phone := register(t, deviceClient(t), "local-shop-owner", name("replay-phone"), "")
	now := time.Now().UTC()
	id := nextOrderID()
	body, wh := signedOrderJSON(localShop, id, now), name("wh-replay-"+id)
	status, answer := postDelivery(t, shopify.TopicOrdersCreate, localShop, wh, now, body, secret)
	require.Equal(t, http.StatusOK, status, answer)
	assert.Contains(t, answer, `"status":"queued"`)
	waitOrder(t, localShop, id, true)
	_, _, err := stack.WaitForDeliveries(context.Background(), phone.EndpointARN, 1, 20*time.Second)
	require.NoError(t, err, "the genuine order reaches the owner")

	// As captured: the same webhook id, the same body.
	status, answer = postDelivery(t, shopify.TopicOrdersCreate, localShop, wh, now, body, secret)
	assert.Equal(t, http.StatusOK, status, answer)
	assert.Contains(t, answer, `"status":"duplicate"`)

	// The same id carrying another order (signed by Shopify for another delivery).
	reused := nextOrderID()
	status, answer = postDelivery(t, shopify.TopicOrdersCreate, localShop, wh, now, signedOrderJSON(localShop, reused, now), secret)
	assert.Equal(t, http.StatusOK, status, answer)
	assert.Contains(t, answer, `"status":"duplicate"`)

	// Another shop's header and a new id: the body names local-shop.
	status, answer = postDelivery(t, shopify.TopicOrdersCreate, otherShop, name("wh-cross-"+id), now, body, secret)
	assert.Equal(t, http.StatusBadRequest, status, answer)
	assert.Contains(t, answer, `"code":"shop_mismatch"`)

	// A day later, with fresh headers: the signed updated_at is 25 hours old.
	stale := nextOrderID()
	status, answer = postDelivery(t, shopify.TopicOrdersCreate, localShop, name("wh-stale-"+stale), now, signedOrderJSON(localShop, stale, now.Add(-25*time.Hour)), secret)
	assert.Equal(t, http.StatusBadRequest, status, answer)
	assert.Contains(t, answer, `"code":"stale"`)
	// With Shopify's own (old) header and a body without time.
	staleHeader := nextOrderID()
	status, answer = postDelivery(t, shopify.TopicOrdersCreate, localShop, name("wh-stale-"+staleHeader), now.Add(-25*time.Hour), orderJSON(staleHeader, 1), secret)
	assert.Equal(t, http.StatusBadRequest, status, answer)
	assert.Contains(t, answer, `"code":"stale"`)
	// A redaction of local-shop's customer sent as other-shop's.
	status, answer = postDelivery(t, shopify.TopicCustomersRedact, otherShop, name("wh-cross-redact-"+id), now,
		fmt.Sprintf(`{"shop_id":1,"shop_domain":%q,"customer":{"id":7002},"orders_to_redact":[%s]}`, localShop, id), secret)
	assert.Equal(t, http.StatusBadRequest, status, answer)
	assert.Contains(t, answer, `"code":"shop_mismatch"`)

	time.Sleep(3 * time.Second) // what was queued would be saved and pushed by now (the genuine one took less)
	assert.Nil(t, storedOrder(t, otherShop, id), "no order row for the other shop")
	for _, o := range []string{reused, stale, staleHeader} {
		assert.Nil(t, storedOrder(t, localShop, o), "no order row for %s", o)
		noReport(t, shopify.PushID(localShop, o))
	}
	noReport(t, shopify.PushID(otherShop, id))
	assert.NotNil(t, storedOrder(t, localShop, id), "the genuine order stays")
	assert.Equal(t, 1, received(t, phone.EndpointARN), "one push, the genuine one")
}
