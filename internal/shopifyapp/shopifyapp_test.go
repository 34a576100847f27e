package shopifyapp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwnersAndRequiredEnvironment(t *testing.T) {
	o, err := ParseOwners(`{"jsmith.myshopify.com":"u-1"}`)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"jsmith.myshopify.com": "u-1"}, o)
	o, err = ParseOwners("")
	require.NoError(t, err)
	assert.Empty(t, o)
	_, err = ParseOwners(`{"shop.example.com":"u"}`)
	assert.EqualError(t, err, `environment variable SHOP_OWNERS: "shop.example.com" -> "u": want NAME.myshopify.com -> a user id`)
	_, err = ParseOwners(`[1]`)
	assert.ErrorContains(t, err, "must be a JSON object")

	env := map[string]string{EnvOrdersTable: "t"}
	assert.EqualError(t, required(func(k string) string { return env[k] }, EnvOrdersTable, EnvPushQueueURL),
		"environment variable PUSH_QUEUE_URL is required")
}

func TestReceiverAndConsumerSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	limit, maxAge, err := ReceiverSettings(env(nil))
	require.NoError(t, err)
	assert.Equal(t, 204800, limit)
	assert.Equal(t, 24*time.Hour, maxAge)
	_, maxAge, err = ReceiverSettings(env(map[string]string{EnvWebhookMaxAge: "18000"}))
	require.NoError(t, err)
	assert.Equal(t, 5*time.Hour, maxAge)
	for _, v := range []string{"17999", "604801", "1e5", "-1", "86400s"} {
		_, _, err = ReceiverSettings(env(map[string]string{EnvWebhookMaxAge: v}))
		assert.ErrorContains(t, err, "WEBHOOK_MAX_AGE_SECONDS must be a whole number from 18000 to 604800", v)
	}
	_, _, err = ReceiverSettings(env(map[string]string{EnvMaxBodyBytes: "10"}))
	assert.ErrorContains(t, err, "MAX_BODY_BYTES")

	d, err := OrderRetention(env(nil))
	require.NoError(t, err)
	assert.Equal(t, 90*24*time.Hour, d)
	d, err = OrderRetention(env(map[string]string{EnvOrderRetentionDays: "1"}))
	require.NoError(t, err)
	assert.Equal(t, 24*time.Hour, d)
	for _, v := range []string{"0", "3651", "ninety"} {
		_, err = OrderRetention(env(map[string]string{EnvOrderRetentionDays: v}))
		assert.ErrorContains(t, err, "ORDER_RETENTION_DAYS must be a whole number from 1 to 3650", v)
	}
}
