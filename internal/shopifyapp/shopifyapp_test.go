package shopifyapp

import (
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func with(base, changes map[string]string) map[string]string {
	m := maps.Clone(base)
	maps.Copy(m, changes)
	return m
}

// The environments the construct gives the two functions.
var (
	receiverEnv = map[string]string{EnvSecretArn: "arn:secret", EnvOrdersQueueURL: "https://q/orders", EnvWebhooksTable: "w",
		EnvMaxBodyBytes: "204800", EnvWebhookMaxAge: "86400"}
	consumerEnv = map[string]string{EnvOrdersTable: "o", EnvPushQueueURL: "https://q/push", EnvDeadLetterQueueURL: "https://q/dlq",
		EnvShopOwners: "{}", EnvOrderRetentionDays: "90"}
)

func TestReceiverSettings(t *testing.T) {
	st, err := loadReceiverSettings(get(receiverEnv))
	require.NoError(t, err)
	assert.Equal(t, receiverSettings{SecretArn: "arn:secret", OrdersQueueURL: "https://q/orders", WebhooksTable: "w",
		MaxBodyBytes: 204800, MaxAge: 24 * time.Hour}, st)
	st, err = loadReceiverSettings(get(with(receiverEnv, map[string]string{EnvWebhookMaxAge: "18000", EnvMaxBodyBytes: "1024"})))
	require.NoError(t, err)
	assert.Equal(t, 5*time.Hour, st.MaxAge)
	assert.Equal(t, 1024, st.MaxBodyBytes)
	for _, v := range []string{"1e5", "86400s"} {
		_, err = loadReceiverSettings(get(with(receiverEnv, map[string]string{EnvWebhookMaxAge: v})))
		assert.EqualError(t, err, `environment variable WEBHOOK_MAX_AGE_SECONDS must be a whole number (the DelayedPush construct sets it), got "`+v+`"`)
	}
	_, err = loadReceiverSettings(get(with(receiverEnv, map[string]string{EnvWebhookMaxAge: "0"})))
	assert.EqualError(t, err, `environment variable WEBHOOK_MAX_AGE_SECONDS must be at least 1, got "0"`)
	_, err = loadReceiverSettings(get(with(receiverEnv, map[string]string{EnvMaxBodyBytes: "-10"})))
	assert.EqualError(t, err, `environment variable MAX_BODY_BYTES must be at least 1, got "-10"`)
}

func TestConsumerSettings(t *testing.T) {
	st, err := loadConsumerSettings(get(consumerEnv))
	require.NoError(t, err)
	assert.Equal(t, consumerSettings{OrdersTable: "o", PushQueueURL: "https://q/push", DeadLetterURL: "https://q/dlq",
		Owners: map[string]string{}, Retention: 90 * 24 * time.Hour}, st)

	st, err = loadConsumerSettings(get(with(consumerEnv, map[string]string{EnvShopOwners: `{"jsmith.myshopify.com":"u-1"}`, EnvOrderRetentionDays: "1"})))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"jsmith.myshopify.com": "u-1"}, st.Owners)
	assert.Equal(t, 24*time.Hour, st.Retention)

	for env, want := range map[string]string{
		`{"shop.example.com":"u"}`:    `environment variable SHOP_OWNERS: "shop.example.com" -> "u": want NAME.myshopify.com -> a user id`,
		`{"jsmith.myshopify.com":""}`: `environment variable SHOP_OWNERS: "jsmith.myshopify.com" -> "": want NAME.myshopify.com -> a user id`,
		`[1]`:                         "environment variable SHOP_OWNERS: must be a JSON object of shop domains to user ids",
	} {
		_, err = loadConsumerSettings(get(with(consumerEnv, map[string]string{EnvShopOwners: env})))
		assert.ErrorContains(t, err, want)
	}
	for _, v := range []string{"0", "ninety"} {
		_, err = loadConsumerSettings(get(with(consumerEnv, map[string]string{EnvOrderRetentionDays: v})))
		assert.ErrorContains(t, err, "environment variable ORDER_RETENTION_DAYS must be")
	}
}

// Every variable the construct sets is required: the construct holds the defaults.
func TestAMissingVariableIsAnErrorNamingIt(t *testing.T) {
	for name := range receiverEnv {
		env := maps.Clone(receiverEnv)
		delete(env, name)
		_, err := loadReceiverSettings(get(env))
		assert.EqualError(t, err, "environment variable "+name+" is not set: the DelayedPush construct sets it")
	}
	for name := range consumerEnv {
		env := maps.Clone(consumerEnv)
		delete(env, name)
		_, err := loadConsumerSettings(get(env))
		assert.EqualError(t, err, "environment variable "+name+" is not set: the DelayedPush construct sets it")
	}
}
