package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newTables creates the device registry (partition key userId, sort key endpointArn: a user's
// platform endpoints) and the delivery log (partition key pushId, sort key endpointArn, TTL
// attribute expiresAt: one record per push and endpoint, the basis of once per device). Both
// are on-demand, encrypted with an AWS managed key and have point-in-time recovery.
func newTables(scope constructs.Construct, id string, s settings) (devices, deliveries awsdynamodb.Table) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	table := func(id, pk string, ttl *string) awsdynamodb.Table {
		return awsdynamodb.NewTable(c, jsii.String(id), &awsdynamodb.TableProps{
			PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(pk), Type: awsdynamodb.AttributeType_STRING},
			SortKey:      &awsdynamodb.Attribute{Name: jsii.String("endpointArn"), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:   awsdynamodb.TableEncryption_AWS_MANAGED,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			TimeToLiveAttribute: ttl,
			RemovalPolicy:       s.removal,
		})
	}
	return table("Devices", "userId", nil), table("Deliveries", "pushId", jsii.String("expiresAt"))
}
