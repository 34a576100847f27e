package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/stretchr/testify/assert"
)

// The logical ids of the resources that hold data. CloudFormation replaces a resource whose
// logical id changes: a renamed construct would delete the tables (with every device and
// delivery record) and the queues (with every push waiting in them). A refactor that changes
// these must be a deliberate migration, not an accident; update this list only then.
func TestStatefulResourcesKeepTheirLogicalIDs(t *testing.T) {
	tpl := defaults(t)
	// The recipient's clock's tables (issue #22) since they were added: a user's zone, quiet
	// hours and caps' counts.
	assert.Equal(t, []string{"DelayedPushCapsTable322573FA", "DelayedPushPreferencesTable735560D1",
		"DelayedPushTablesDeliveriesFC98DA35", "DelayedPushTablesDeviceOwnersB43FF6A2",
		"DelayedPushTablesDevicesEC665E01", "DelayedPushTablesSchedules96D2A283"},
		ids(tpl, "AWS::DynamoDB::Table", nil))
	assert.Equal(t, "DelayedPushPreferencesTable735560D1", preferencesTable(t, tpl))
	assert.Equal(t, "DelayedPushCapsTable322573FA", capsTable(t, tpl))
	assert.Equal(t, []string{"DelayedPushDeviceEventsDeadLetterQueue8333D093", "DelayedPushDeviceEventsQueueBB21D5C3",
		"DelayedPushDeviceEventsUndeliveredQueueB73674AD", "DelayedPushEconomyDeadLetterQueue056CA86D", "DelayedPushPushQueueB9E99038",
		"DelayedPushPushQueueDeadLetterQueue9AF311D1"},
		ids(tpl, "AWS::SQS::Queue", nil))
	// The economy engine's schedule group: a new one would delete the old one with every pending
	// economy push's schedule in it.
	assert.Equal(t, []string{"DelayedPushEconomyScheduleGroupF5C5D125"}, ids(tpl, "AWS::Scheduler::ScheduleGroup", nil))
	// The queues' event source mappings too: a new id would replace a mapping (two pollers for
	// a moment, its settings reset).
	assert.Equal(t, []string{"DelayedPushDeviceEventsFunctionSqsEventSourceDelayedPushDeviceEventsQueue8DB38D654951CDA1",
		"DelayedPushSenderFunctionSqsEventSourceDelayedPushPushQueue287EE1AF30CDA507"}, ids(tpl, "AWS::Lambda::EventSourceMapping", nil))
	// The topics key keeps its id (it encrypts the log groups, the topics and the secret);
	// customerManagedKey adds a data key of its own.
	assert.Equal(t, []string{"DelayedPushAlarmsTopicKey933C9F59"}, ids(tpl, "AWS::KMS::Key", nil))
	assert.Equal(t, []string{"DelayedPushSchedulerStateMachine95CB449B"}, ids(tpl, "AWS::StepFunctions::StateMachine", nil),
		"replacing the state machine would stop every scheduled push")

	shop := withShopify(t)
	assert.Equal(t, []string{"DelayedPushShopifyOrdersEC50E0FE"}, ids(shop, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": assertions.Match_ArrayWith(&[]any{
		map[string]any{"AttributeName": "shopDomain", "KeyType": "HASH"}})})), "the orders table")
	assert.Equal(t, []string{"DelayedPushDeviceEventsDeadLetterQueue8333D093", "DelayedPushDeviceEventsQueueBB21D5C3",
		"DelayedPushDeviceEventsUndeliveredQueueB73674AD", "DelayedPushEconomyDeadLetterQueue056CA86D", "DelayedPushPushQueueB9E99038",
		"DelayedPushPushQueueDeadLetterQueue9AF311D1", "DelayedPushShopifyDeadLetterQueue6762CF92", "DelayedPushShopifyQueueA596F8CD"}, ids(shop, "AWS::SQS::Queue", nil), "with the orders queues")
	assert.Contains(t, ids(shop, "AWS::Lambda::EventSourceMapping", nil), "DelayedPushShopifyOrdersFunctionSqsEventSourceDelayedPushShopifyQueue815519F2CACCF94E")
	assert.Equal(t, []string{"DelayedPushShopifyClientSecret4FDE01C8"}, ids(shop, "AWS::SecretsManager::Secret", nil), "the client secret")
	assert.Equal(t, []string{"DelayedPushShopifyWebhooks2C419352"}, ids(shop, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "webhookId", "KeyType": "HASH"}}})), "the webhook ids seen (a new table would forget them: replays of the last day accepted again)")
}
