package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// TablesProps configures the DynamoDB tables.
type TablesProps struct {
	RemovalPolicy awscdk.RemovalPolicy
}

// Tables holds the device registry (a user's platform endpoints) and the delivery log (one
// record per push and endpoint, the basis of at-most-once delivery to a device). Both are
// on-demand, encrypted with an AWS managed key and have point-in-time recovery.
type Tables struct {
	constructs.Construct
	// Devices: partition key userId, sort key endpointArn.
	Devices awsdynamodb.Table
	// Deliveries: partition key pushId, sort key endpointArn, TTL attribute expiresAt.
	Deliveries awsdynamodb.Table
}

// NewTables creates the device registry and the delivery log.
func NewTables(scope constructs.Construct, id string, props *TablesProps) *Tables {
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
			RemovalPolicy:       props.RemovalPolicy,
		})
	}
	return &Tables{
		Construct:  c,
		Devices:    table("Devices", "userId", nil),
		Deliveries: table("Deliveries", "pushId", jsii.String("expiresAt")),
	}
}
