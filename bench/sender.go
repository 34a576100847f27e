package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/metrics"
)

// Account is an in-memory AWS account with the sender's tables, SNS and SQS, every call
// answered after Latency and counted in Calls.
type Account struct {
	Calls  *Calls
	DB     *ddbfake.DB
	Dynamo *DynamoDB
	SNS    *SNS
	SQS    *SQS
}

// NewAccount returns an empty account whose calls each take latency.
func NewAccount(latency time.Duration) *Account {
	calls := &Calls{}
	db := &ddbfake.DB{Tables: map[string]*ddbfake.Table{
		DevicesTable:    ddbfake.New("userId", "endpointArn"),
		DeliveriesTable: ddbfake.New("pushId", "endpointArn"),
		SchedulesTable:  ddbfake.New(index.Key),
	}}
	return &Account{
		Calls:  calls,
		DB:     db,
		Dynamo: &DynamoDB{DB: db, Latency: latency, Calls: calls},
		SNS:    &SNS{Latency: latency, Calls: calls},
		SQS:    &SQS{Latency: latency, Calls: calls},
	}
}

// EndpointARN is the i-th device of user.
func EndpointARN(user string, i int) string {
	return fmt.Sprintf("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/delayed-push/%s-%d", user, i)
}

// AddUser registers n enabled devices for user, as the device registry holds them (not
// counted: set-up).
func (a *Account) AddUser(user string, n int) {
	for i := range n {
		_, err := a.DB.Tables[DevicesTable].PutItem(context.Background(), putItem(map[string]types.AttributeValue{
			"userId": s(user), "endpointArn": s(EndpointARN(user, i)), "platform": s("FCM"),
			"enabled": &types.AttributeValueMemberBOOL{Value: true},
		}))
		if err != nil {
			panic(err)
		}
	}
}

// AddSchedule writes the schedules row the client writes for key at revision 1 (not
// counted: the client's write, not the sender's).
func (a *Account) AddSchedule(key, user string) {
	_, err := a.DB.Tables[SchedulesTable].PutItem(context.Background(), putItem(map[string]types.AttributeValue{
		index.Key: s(key), index.Revision: &types.AttributeValueMemberN{Value: "1"}, index.State: s(index.Scheduled),
		index.PendingRecipient: s(user), index.Recipient: s(user),
	}))
	if err != nil {
		panic(err)
	}
}

// Service is the sender as lambdas/sender wires it (internal/senderapp), on this account.
func (a *Account) Service() *delivery.Service {
	return &delivery.Service{
		Registry:  &awsadapters.Registry{Client: a.Dynamo, Table: DevicesTable},
		Log:       &awsadapters.DeliveryLog{Client: a.Dynamo, Table: DeliveriesTable, Retention: 30 * 24 * time.Hour},
		Publisher: &awsadapters.Publisher{Client: a.SNS},
		Queue: &awsadapters.Queues{Client: a.SQS, PushQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/push",
			DeadLetterQueue: "https://sqs.us-east-1.amazonaws.com/123456789012/dlq"},
		Index:   &awsadapters.Schedules{Client: a.Dynamo, Table: SchedulesTable},
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics: &metrics.Emitter{W: io.Discard, Function: "sender"},
		// The stack's defaults (stacks.DefaultConfig).
		Guarantee:       "at-least-once",
		MaxReceiveCount: 5,
		MaxLateness:     24 * time.Hour,
	}
}

// PushBody is a typical push to a user: a title, a body, two data fields, a TTL and a
// priority, due now; revision > 0 as the client schedules it.
func PushBody(id, user string, revision int) string { return pushBody(id, "userId", user, revision) }

// EndpointPushBody is the same push to one endpoint ARN: no registry read.
func EndpointPushBody(id, endpointARN string) string {
	return pushBody(id, "endpointArn", endpointARN, 0)
}

func pushBody(id, field, recipient string, revision int) string {
	rev := ""
	if revision > 0 {
		rev = `,"revision":` + strconv.Itoa(revision)
	}
	return `{"v":1,"id":"` + id + `","` + field + `":"` + recipient + `","title":"Your order has shipped","body":"Arriving Tuesday between 9 and 12",` +
		`"data":{"orderId":"1234-5678","deepLink":"shop://orders/1234-5678"},"ttlSeconds":86400,"priority":"high",` +
		`"dueAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"` + rev + `}`
}

// Batch is the SQS event of the bodies, as Lambda's event source mapping hands it over.
func Batch(bodies ...string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(bodies))}
	sent := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for i, b := range bodies {
		ev.Records[i] = events.SQSMessage{
			MessageId: fmt.Sprintf("msg-%d", i), Body: b, EventSource: "aws:sqs",
			Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": sent, "SenderId": "AIDAPRODUCER"},
		}
	}
	return ev
}

// CheckAllSent returns an error unless every record of the response went out: no batch item
// failure, and the delivery log holds devices × len(ids) sent records.
func (a *Account) CheckAllSent(resp events.SQSEventResponse, want int) error {
	if len(resp.BatchItemFailures) > 0 {
		return fmt.Errorf("bench: %d batch item failures", len(resp.BatchItemFailures))
	}
	out, err := a.DB.Tables[DeliveriesTable].Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(DeliveriesTable)})
	if err != nil {
		return err
	}
	sent := 0
	for _, it := range out.Items {
		if v, ok := it["status"].(*types.AttributeValueMemberS); ok && v.Value == delivery.StatusSent {
			sent++
		}
	}
	if sent != want {
		return fmt.Errorf("bench: %d deliveries recorded sent, want %d", sent, want)
	}
	return nil
}

func putItem(item map[string]types.AttributeValue) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{Item: item}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// Scenario is a kind of push the batch benchmark sends.
type Scenario struct {
	Name string
	// Devices is how many devices each user has; 0: the push names an endpoint ARN.
	Devices int
	// Scheduled: through the client, with a revision and a schedules row to claim and finish.
	Scheduled bool
}

// Endpoints is the number of endpoints one push of the scenario goes to.
func (sc Scenario) Endpoints() int { return max(sc.Devices, 1) }

// Run is what one batch took.
type Run struct {
	Elapsed     time.Duration
	Calls       map[string]int
	MaxInFlight int
}

// RunBatch sends one batch of n pushes of the scenario, each to its own user, through the
// sender on a fresh account whose every call takes latency, and checks that every delivery was
// recorded sent.
func RunBatch(sc Scenario, n int, latency time.Duration) (Run, error) {
	a := NewAccount(latency)
	bodies := make([]string, n)
	for i := range bodies {
		id, user := fmt.Sprintf("push-%d", i), fmt.Sprintf("user-%d", i)
		switch {
		case sc.Devices == 0:
			bodies[i] = EndpointPushBody(id, EndpointARN(user, 0))
		case sc.Scheduled:
			a.AddUser(user, sc.Devices)
			a.AddSchedule(id, user)
			bodies[i] = PushBody(id, user, 1)
		default:
			a.AddUser(user, sc.Devices)
			bodies[i] = PushBody(id, user, 0)
		}
	}
	svc := a.Service()
	ev := Batch(bodies...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := svc.Handle(ctx, ev)
	elapsed := time.Since(start)
	if err != nil {
		return Run{}, err
	}
	if err := a.CheckAllSent(resp, n*sc.Endpoints()); err != nil {
		return Run{}, err
	}
	return Run{Elapsed: elapsed, Calls: a.Calls.Snapshot(), MaxInFlight: a.Calls.MaxInFlight()}, nil
}
