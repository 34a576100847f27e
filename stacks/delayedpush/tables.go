package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

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
	te, tk := s.tableEncryption()
	table := func(id, pk, sk string, ttl *string) awsdynamodb.Table {
		props := &awsdynamodb.TableProps{
			PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String(pk), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:    te,
			EncryptionKey: tk,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			TimeToLiveAttribute: ttl,
			RemovalPolicy:       s.removal,
			// Retained tables cannot be deleted by one API call either.
			DeletionProtection: jsii.Bool(s.removal == awscdk.RemovalPolicy_RETAIN),
		}
		if sk != "" {
			props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(sk), Type: awsdynamodb.AttributeType_STRING}
		}
		return awsdynamodb.NewTable(c, jsii.String(id), props)
	}
	devices = table("Devices", "userId", "endpointArn", nil)
	owners = table("DeviceOwners", "deviceId", "", nil)
	deliveries = table("Deliveries", "pushId", "endpointArn", jsii.String("expiresAt"))
	schedules = table("Schedules", index.Key, "", jsii.String(index.ExpiresAt))
	schedules.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(index.PendingIndex),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(index.PendingRecipient), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(index.DueAt), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	return devices, owners, deliveries, schedules
}
