package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

func TestConfigDefaultsWhenContextIsAbsent(t *testing.T) {
	cfg, err := stacks.ParseConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, stacks.DefaultConfig(), cfg)
	assert.Equal(t, 10, cfg.SenderMaxConcurrency)
	assert.Equal(t, "retain", cfg.RemovalPolicy)
	assert.Equal(t, 30, cfg.LogRetentionDays)
	assert.Empty(t, cfg.ProducerPrincipals)
}

func TestConfigReadsObjectAndCommandLineString(t *testing.T) {
	fromJSON, err := stacks.ParseConfig(map[string]any{"senderMaxConcurrency": 20, "removalPolicy": "destroy"})
	require.NoError(t, err)
	fromString, err := stacks.ParseConfig(`{"senderMaxConcurrency":20,"removalPolicy":"destroy"}`)
	require.NoError(t, err)
	assert.Equal(t, fromJSON, fromString)
	assert.Equal(t, 20, fromJSON.SenderMaxConcurrency)
	assert.Equal(t, "destroy", fromJSON.RemovalPolicy)
	assert.Equal(t, 30, fromJSON.LogRetentionDays, "unset keys keep their defaults")
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct {
		raw  any
		want string
	}{
		"unknown key":          {`{"senderMaxConcurency":5}`, `unknown key "senderMaxConcurency"`},
		"wrong type":           {`{"senderMaxConcurrency":"ten"}`, `key "senderMaxConcurrency" must be a JSON int`},
		"not json":             {`senderMaxConcurrency=5`, "not a JSON object"},
		"concurrency too low":  {`{"senderMaxConcurrency":1}`, `key "senderMaxConcurrency" must be from 2 to 1000, got 1`},
		"bad retention":        {`{"logRetentionDays":10}`, `key "logRetentionDays" must be one of`},
		"bad removal policy":   {`{"removalPolicy":"keep"}`, `key "removalPolicy" must be "retain" or "destroy", got "keep"`},
		"bad platform app":     {`{"platformApplicationArn":"arn:aws:sns:us-east-1:123456789012:app/APNS/x"}`, `key "platformApplicationArn" must be an SNS FCM platform application ARN`},
		"bad principal":        {`{"producerPrincipals":["arn:aws:iam::123456789012:user/bob"]}`, `key "producerPrincipals" item 0 must be an IAM role ARN`},
		"timeout too long":     {`{"senderTimeoutSeconds":901}`, `key "senderTimeoutSeconds" must be from 1 to 900`},
		"bad email":            {`{"alarmEmail":"oncall"}`, `key "alarmEmail" must be an e-mail address`},
		"receive count zero":   {`{"maxReceiveCount":0}`, `key "maxReceiveCount" must be from 1 to 1000`},
		"memory too small":     {`{"senderMemoryMiB":64}`, `key "senderMemoryMiB" must be from 128 to 10240`},
		"retention days zero":  {`{"deliveryRetentionDays":0}`, `key "deliveryRetentionDays" must be from 1 to 3650`},
		"visibility too short": {`{"senderTimeoutSeconds":10,"visibilityTimeoutSeconds":14}`, `key "visibilityTimeoutSeconds" must be at least senderTimeoutSeconds + 5 (15)`},
		"visibility too long":  {`{"visibilityTimeoutSeconds":43201}`, `key "visibilityTimeoutSeconds" must fit SQS's 12-hour limit`},
		"bad guarantee":        {`{"deliveryGuarantee":"exactly-once"}`, `key "deliveryGuarantee" must be "at-least-once" or "at-most-once", got "exactly-once"`},
		"negative lateness":    {`{"maxLatenessSeconds":-1}`, `key "maxLatenessSeconds" must be from 0 (no limit) to 31532400 (365 days less an hour), got -1`},
		"lateness over a year": {`{"maxLatenessSeconds":31536000}`, `key "maxLatenessSeconds" must be from 0 (no limit) to 31532400`},
		"unknown zone": {`{"defaultTimeZone":"Europe/Atlantis"}`,
			`key "defaultTimeZone" must be an IANA time zone like "Europe/Berlin": unknown time zone "Europe/Atlantis": not in the IANA time zone database`},
		"server's zone":   {`{"defaultTimeZone":"Local"}`, `key "defaultTimeZone" must be an IANA time zone like "Europe/Berlin": "Local" is the server's own zone`},
		"no zone":         {`{"defaultTimeZone":""}`, `key "defaultTimeZone" must be an IANA time zone like "Europe/Berlin": is required`},
		"malformed caps":  {`{"caps":"3 per day"}`, `key "caps" must be frequency caps like "3/24h,1/10m; promo=1/1h": stack: cap "3 per day": want N/W like 3/24h`},
		"caps category":   {`{"caps":"3/24h; Promo=1/1h"}`, `key "caps" must be frequency caps like "3/24h,1/10m; promo=1/1h": category`},
		"caps in a group": {`{"caps":"promo=1/1h"}`, `key "caps" must be frequency caps like "3/24h,1/10m; promo=1/1h": the stack's caps come first`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := stacks.ParseConfig(c.raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "context delayedPush")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
