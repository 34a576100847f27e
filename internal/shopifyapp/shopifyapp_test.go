package shopifyapp

import (
	"testing"

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
