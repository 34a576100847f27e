// Package bench holds the reproducible benchmarks of the sender that `make bench` runs and
// writes into BENCHMARKS.md (cmd/benchmd drives them): a batch through the real
// delivery.Service and the real AWS adapters (internal/awsadapters) against in-memory AWS
// APIs that answer after a fixed latency and count every call, the sender's CPU cost per
// push, and pushes per second of one sender on one core.
package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
)

// Table names of the in-memory account.
const (
	DevicesTable    = "devices"
	DeliveriesTable = "deliveries"
	SchedulesTable  = "schedules"
)

// Calls counts AWS API calls by "service:Operation table" (the table for DynamoDB), and how
// many were in flight at once. Safe for concurrent use.
type Calls struct {
	mu          sync.Mutex
	n           map[string]int
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

func (c *Calls) start(name string) func() {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
	c.mu.Unlock()
	cur := c.inFlight.Add(1)
	for {
		m := c.maxInFlight.Load()
		if cur <= m || c.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	return func() { c.inFlight.Add(-1) }
}

// Snapshot returns the counts so far.
func (c *Calls) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Total is the number of calls so far.
func (c *Calls) Total() int {
	n := 0
	for _, v := range c.Snapshot() {
		n += v
	}
	return n
}

// MaxInFlight is the most calls seen in flight at once.
func (c *Calls) MaxInFlight() int { return int(c.maxInFlight.Load()) }

// Names returns the call names seen, sorted.
func (c *Calls) Names() []string {
	m := c.Snapshot()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wait is one call's latency: it answers after d, or when ctx ends (as the SDK does).
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DynamoDB is an in-memory DynamoDB (internal/ddbfake, atomic conditional writes) whose every
// call takes Latency and is counted in Calls. It is what the adapters' interfaces take.
type DynamoDB struct {
	DB      *ddbfake.DB
	Latency time.Duration
	Calls   *Calls
}

func (d *DynamoDB) call(ctx context.Context, op string, table *string) (func(), error) {
	done := d.Calls.start("dynamodb:" + op + " " + aws.ToString(table))
	if err := wait(ctx, d.Latency); err != nil {
		done()
		return nil, err
	}
	return done, nil
}

func (d *DynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	done, err := d.call(ctx, "GetItem", in.TableName)
	if err != nil {
		return nil, err
	}
	defer done()
	return d.DB.GetItem(ctx, in, opts...)
}

func (d *DynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	done, err := d.call(ctx, "UpdateItem", aws.String(aws.ToString(in.TableName)+" "+purpose(in)))
	if err != nil {
		return nil, err
	}
	defer done()
	return d.DB.UpdateItem(ctx, in, opts...)
}

func (d *DynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	done, err := d.call(ctx, "Query", in.TableName)
	if err != nil {
		return nil, err
	}
	defer done()
	return d.DB.Query(ctx, in, opts...)
}

// purpose tells the sender's writes apart by their expressions (internal/awsadapters): on
// the delivery log the claim (it creates the record) and the record of an outcome; on the
// schedules index the begin (scheduled → sending) and the finish.
func purpose(in *dynamodb.UpdateItemInput) string {
	cond, update := aws.ToString(in.ConditionExpression), aws.ToString(in.UpdateExpression)
	switch aws.ToString(in.TableName) {
	case DeliveriesTable:
		if strings.Contains(cond, "attribute_not_exists(pushId)") {
			return "(claim)"
		}
		return "(record)"
	case SchedulesTable:
		if strings.Contains(update, ":sending") {
			return "(begin)"
		}
		return "(finish)"
	case DevicesTable:
		return "(disable)"
	}
	return ""
}

var (
	_ awsadapters.DynamoItems = (*DynamoDB)(nil)
	_ awsadapters.RegistryAPI = (*DynamoDB)(nil)
)

// SNS answers every Publish with a message id after Latency.
type SNS struct {
	Latency time.Duration
	Calls   *Calls
	seq     atomic.Int64
}

func (s *SNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	done := s.Calls.start("sns:Publish")
	defer done()
	if err := wait(ctx, s.Latency); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(aws.ToString(in.Message), `{"GCM":`) {
		return nil, fmt.Errorf("bench: unexpected SNS message %.40q", aws.ToString(in.Message))
	}
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprintf("msg-%d", s.seq.Add(1)))}, nil
}

var _ awsadapters.SNSPublishAPI = (*SNS)(nil)

// SQS accepts every SendMessage (requeues and parks) after Latency.
type SQS struct {
	Latency time.Duration
	Calls   *Calls
}

func (q *SQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	done := q.Calls.start("sqs:SendMessage")
	defer done()
	if err := wait(ctx, q.Latency); err != nil {
		return nil, err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

var _ awsadapters.SQSSendAPI = (*SQS)(nil)
