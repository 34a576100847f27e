package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"

	"github.com/delayed-push/delayed-push/stacks"
)

// The recipient's clock keeps two tables, each like the others (on demand, encrypted, point-in-
// time recovery, deletion protection while retained; TestDataKeyIsApartFromTheTopicsKey and
// TestRemovalPolicyRetainsDataByDefault cover every table under customerManagedKey and
// removalPolicy): the preferences, one row per user; the caps, one row per user that expires
// (TTL expiresAt) once its longest window has passed.
func TestRecipientClockTables(t *testing.T) {
	tpl := defaults(t)
	for _, table := range []string{preferencesTable(t, tpl), capsTable(t, tpl)} {
		hasProperties(t, tpl, "AWS::DynamoDB::Table", table, map[string]any{
			"AttributeDefinitions":             []any{map[string]any{"AttributeName": "userId", "AttributeType": "S"}},
			"BillingMode":                      "PAY_PER_REQUEST",
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        true,
			"GlobalSecondaryIndexes":           assertions.Match_Absent(),
		})
	}
}

// The sender learns both tables, the caps and the default zone; the HTTP API the preferences
// and the default zone (it resolves local times); no other function either.
func TestRecipientClockEnvironment(t *testing.T) {
	env := func(vars map[string]any) map[string]any {
		return map[string]any{"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&vars)}}
	}
	tpl := defaults(t)
	preferences, caps := preferencesTable(t, tpl), capsTable(t, tpl)
	sender, api := functionWith(t, tpl, "SCHEDULER_ROLE_ID"), functionWith(t, tpl, "DEFAULT_DELAY_SECONDS")
	hasProperties(t, tpl, "AWS::Lambda::Function", sender, env(map[string]any{
		"PREFERENCES_TABLE": ref(preferences), "CAPS_TABLE": ref(caps), "CAPS": "", "DEFAULT_TIME_ZONE": "UTC"}), "the defaults: no caps, UTC")
	hasProperties(t, tpl, "AWS::Lambda::Function", api, env(map[string]any{
		"PREFERENCES_TABLE": ref(preferences), "DEFAULT_TIME_ZONE": "UTC", "CAPS_TABLE": assertions.Match_Absent(), "CAPS": assertions.Match_Absent()}))
	assert.Equal(t, []string{sender}, ids(tpl, "AWS::Lambda::Function", withProperties(env(map[string]any{"CAPS_TABLE": assertions.Match_AnyValue()}))))
	assert.ElementsMatch(t, []string{sender, api}, ids(tpl, "AWS::Lambda::Function", withProperties(env(map[string]any{"PREFERENCES_TABLE": assertions.Match_AnyValue()}))))
	tpl.HasOutput(jsiiStr("PreferencesTableName"), map[string]any{"Value": ref(preferences)})
	tpl.HasOutput(jsiiStr("DefaultTimeZone"), map[string]any{"Value": "UTC"})

	set := withConfig(t, func(c *stacks.Config) { c.DefaultTimeZone, c.Caps = "Australia/Lord_Howe", "3/24h,1/10m; promo=1/1h" })
	hasProperties(t, set, "AWS::Lambda::Function", functionWith(t, set, "SCHEDULER_ROLE_ID"), env(map[string]any{
		"CAPS": "3/24h,1/10m; promo=1/1h", "DEFAULT_TIME_ZONE": "Australia/Lord_Howe"}))
	hasProperties(t, set, "AWS::Lambda::Function", functionWith(t, set, "DEFAULT_DELAY_SECONDS"), env(map[string]any{"DEFAULT_TIME_ZONE": "Australia/Lord_Howe"}))
	set.HasOutput(jsiiStr("DefaultTimeZone"), map[string]any{"Value": "Australia/Lord_Howe"})
}
