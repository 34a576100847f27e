package test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/delayed-push/delayed-push/stacks"
)

// The logical ids of the resources that hold data. CloudFormation replaces a resource whose
// logical id changes: a renamed construct would delete the tables (with every device and
// delivery record) and the queues (with every push waiting in them). A refactor that changes
// these must be a deliberate migration, not an accident; update this list only then.
func TestStatefulResourcesKeepTheirLogicalIDs(t *testing.T) {
	assert.Equal(t, "DelayedPush", stacks.ConstructID)
	tpl := defaults(t)
	assert.Equal(t, []string{"DelayedPushTablesDeliveriesFC98DA35", "DelayedPushTablesDeviceOwnersB43FF6A2",
		"DelayedPushTablesDevicesEC665E01", "DelayedPushTablesSchedules96D2A283"},
		ids(tpl, "AWS::DynamoDB::Table", nil))
	assert.Equal(t, []string{"DelayedPushDeviceEventsDeadLetterQueue8333D093", "DelayedPushDeviceEventsQueueBB21D5C3",
		"DelayedPushPushQueueB9E99038", "DelayedPushPushQueueDeadLetterQueue9AF311D1"},
		ids(tpl, "AWS::SQS::Queue", nil))
	assert.Equal(t, []string{"DelayedPushSchedulerStateMachine95CB449B"}, ids(tpl, "AWS::StepFunctions::StateMachine", nil),
		"replacing the state machine would stop every scheduled push")
}
