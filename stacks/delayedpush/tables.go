package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/index"
)

// SchedulesPendingIndex is the schedules table's sparse global index of pending pushes, which
// listing them queries.
const SchedulesPendingIndex = index.PendingIndex

// newTables creates the four tables, on demand, encrypted with an AWS managed key (with
// CustomerManagedData, the data key) and with point-in-time recovery:
//   - the device registry (partition key userId, sort key endpointArn: a user's platform
//     endpoints, what the sender reads);
//   - the device owners (partition key deviceId: who owns each device; conditional writes on
//     it make a token belong to one user at a time);
//   - the delivery log (partition key pushId, sort key endpointArn, TTL expiresAt: one record
//     per push and endpoint, the basis of once per device);
//   - the schedules index (partition key key, TTL expiresAt: one row per key the client
//     scheduled, with its revision and state), with the sparse global index "pending"
//     (pendingRecipient, dueAt) that holds only scheduled pushes, so listing them costs what
//     a page returns.
func newTables(scope constructs.Construct, id string, s settings) (devices, owners, deliveries, schedules awsdynamodb.Table) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	devices = newTable(c, "Devices", s, "userId", "endpointArn", "")
	owners = newTable(c, "DeviceOwners", s, "deviceId", "", "")
	deliveries = newTable(c, "Deliveries", s, "pushId", "endpointArn", "expiresAt")
	schedules = newTable(c, "Schedules", s, index.Key, "", index.ExpiresAt)
	schedules.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(index.PendingIndex),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(index.PendingRecipient), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(index.DueAt), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	return devices, owners, deliveries, schedules
}

// newRecipientTables creates the recipient's clock's two tables, like newTables' and beside
// them (ids PreferencesTable and CapsTable, pinned by the logical ids test):
//   - the preferences (partition key userId: a user's time zone, where it came from, and
//     quiet hours), kept by the client, the HTTP API and device registration, read by the
//     sender when a push is due and when a push for a local time is scheduled;
//   - the caps (partition key userId, TTL expiresAt: the pushes each cap counted for a user,
//     see awsadapters.CapStore), which the sender takes from right before it sends.
func newRecipientTables(scope constructs.Construct, s settings) (preferences, caps awsdynamodb.Table) {
	preferences = newTable(scope, "PreferencesTable", s, "userId", "", "")
	caps = newTable(scope, "CapsTable", s, awsadapters.CapsUserID, "", awsadapters.CapsExpiresAt)
	return preferences, caps
}

// newTable is a table on demand, encrypted as s says (an AWS managed key, or the data key),
// with point-in-time recovery, s's removal policy and, when retained, deletion protection; sk
// and ttl are optional ("").
func newTable(scope constructs.Construct, id string, s settings, pk, sk, ttl string) awsdynamodb.Table {
	te, tk := s.tableEncryption()
	props := &awsdynamodb.TableProps{
		PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String(pk), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:    te,
		EncryptionKey: tk,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		RemovalPolicy: s.removal,
		// Retained tables cannot be deleted by one API call either.
		DeletionProtection: jsii.Bool(s.removal == awscdk.RemovalPolicy_RETAIN),
	}
	if sk != "" {
		props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(sk), Type: awsdynamodb.AttributeType_STRING}
	}
	if ttl != "" {
		props.TimeToLiveAttribute = jsii.String(ttl)
	}
	return awsdynamodb.NewTable(scope, jsii.String(id), props)
}
