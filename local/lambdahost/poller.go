package lambdahost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSClient is the part of *sqs.Client the poller uses (a seam for tests).
type SQSClient interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Invoker runs the function synchronously; *Host implements it.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// EventSource mirrors an AWS::Lambda::EventSourceMapping for an SQS queue.
type EventSource struct {
	QueueURL string // where to receive from
	QueueARN string // eventSourceARN in the event
	Region   string // awsRegion in the event; default: the ARN's region

	BatchSize int           // BatchSize; default 10
	Window    time.Duration // MaximumBatchingWindowInSeconds; 0 invokes as soon as messages arrive
	// ReportBatchItemFailures is FunctionResponseTypes: [ReportBatchItemFailures].
	ReportBatchItemFailures bool
	// MaxConcurrency is ScalingConfig.MaximumConcurrency: batches in flight at once. Default 5
	// (the number of pollers Lambda starts with).
	MaxConcurrency int

	WaitTime time.Duration // long-poll wait per ReceiveMessage; default 20s, as Lambda uses
	Log      io.Writer     // poller diagnostics, prefixed "[esm <queue>] "; nil discards
}

// Poll does what Lambda's SQS event source mapping does until ctx is cancelled: it long-polls
// the queue, invokes fn with an SQS event per batch and deletes the messages the function
// processed. Messages of a failed invocation (error, timeout) - or, with
// ReportBatchItemFailures, the ones listed in batchItemFailures - are not deleted: they
// become visible again after the visibility timeout and the queue's redrive policy moves them
// to the dead-letter queue after maxReceiveCount receives.
//
// Poll returns nil once ctx is done and in-flight batches have finished; it returns an error
// right away only for an invalid EventSource.
func Poll(ctx context.Context, client SQSClient, src EventSource, fn Invoker) error {
	if src.QueueURL == "" {
		return errors.New("lambdahost: EventSource.QueueURL is required")
	}
	if src.BatchSize <= 0 {
		src.BatchSize = 10
	}
	if src.MaxConcurrency <= 0 {
		src.MaxConcurrency = 5
	}
	if src.WaitTime <= 0 || src.WaitTime > 20*time.Second {
		src.WaitTime = 20 * time.Second
	}
	if src.Region == "" {
		src.Region = regionFromARN(src.QueueARN)
	}
	if src.Log == nil {
		src.Log = io.Discard
	}
	p := &poller{client: client, src: src, fn: fn, log: &lineWriter{prefix: "[esm " + queueName(src.QueueURL) + "] ", out: &lockedWriter{w: src.Log}}}

	// One worker per allowed concurrent batch: each receives a batch, invokes, deletes, and
	// only then receives again, so at most MaxConcurrency batches are ever in flight.
	var wg sync.WaitGroup
	for range src.MaxConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.work(ctx)
		}()
	}
	wg.Wait()
	return nil
}

type poller struct {
	client SQSClient
	src    EventSource
	fn     Invoker
	log    *lineWriter
}

func (p *poller) logf(format string, args ...any) {
	fmt.Fprintf(p.log, format+"\n", args...)
}

func (p *poller) work(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		batch, err := p.receiveBatch(ctx)
		if len(batch) > 0 {
			p.process(ctx, batch)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.logf("ReceiveMessage failed (retrying in %v): %v", backoff, err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, 20*time.Second)
			continue
		}
		backoff = time.Second
	}
}

// receiveBatch returns up to BatchSize messages. With a batching window it keeps receiving
// until the batch is full or the window (started by the first message) has passed; without
// one it returns whatever the first non-empty long poll brought. On an error it still returns
// the messages already received, since they are now invisible and should be processed.
func (p *poller) receiveBatch(ctx context.Context) ([]types.Message, error) {
	var batch []types.Message
	var windowEnd time.Time
	for {
		wait := p.src.WaitTime
		if len(batch) > 0 {
			wait = time.Until(windowEnd)
			if wait <= 0 {
				return batch, nil
			}
		}
		out, err := p.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.src.QueueURL),
			MaxNumberOfMessages:         int32(min(10, p.src.BatchSize-len(batch))),
			WaitTimeSeconds:             int32((wait + time.Second - 1) / time.Second), // whole seconds, rounded up
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			return batch, err
		}
		if len(out.Messages) == 0 && len(batch) == 0 {
			return nil, nil // empty long poll; the caller polls again
		}
		if len(batch) == 0 {
			windowEnd = time.Now().Add(p.src.Window)
		}
		batch = append(batch, out.Messages...)
		if len(batch) >= p.src.BatchSize || p.src.Window <= 0 || !time.Now().Before(windowEnd) {
			return batch, nil
		}
	}
}

// process invokes the function for one batch and deletes what succeeded.
func (p *poller) process(ctx context.Context, batch []types.Message) {
	payload, err := SQSEventJSON(batch, p.src.QueueARN, p.src.Region)
	if err != nil {
		p.logf("building the event: %v", err)
		return
	}
	resp, err := p.fn.Invoke(ctx, payload)
	if err != nil {
		p.logf("invocation failed, %d message(s) left on the queue for retry: %v", len(batch), err)
		return
	}
	done := batch
	if p.src.ReportBatchItemFailures {
		failed, err := batchItemFailures(resp, batch)
		if err != nil {
			p.logf("treating the whole batch of %d as failed: %v", len(batch), err)
			return
		}
		if len(failed) > 0 {
			p.logf("%d of %d message(s) reported as failed, left on the queue for retry", len(failed), len(batch))
			done = nil
			for _, m := range batch {
				if !failed[aws.ToString(m.MessageId)] {
					done = append(done, m)
				}
			}
		}
	}
	// The function has processed these messages: delete them even if we are shutting down,
	// otherwise they would be delivered a second time.
	delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	p.delete(delCtx, done)
}

// batchItemFailures reads a ReportBatchItemFailures response the way Lambda does: an empty or
// null response, or an empty or null list, means the whole batch succeeded; a response that is
// not valid JSON, or a failure whose itemIdentifier is missing, empty or not a message of the
// batch, fails the whole batch (returned as an error).
func batchItemFailures(resp []byte, batch []types.Message) (map[string]bool, error) {
	trimmed := bytes.TrimSpace(resp)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(trimmed, &r); err != nil {
		return nil, fmt.Errorf("invalid batch response %q: %w", truncate(trimmed, 200), err)
	}
	inBatch := make(map[string]bool, len(batch))
	for _, m := range batch {
		inBatch[aws.ToString(m.MessageId)] = true
	}
	failed := map[string]bool{}
	for _, f := range r.BatchItemFailures {
		id := aws.ToString(f.ItemIdentifier)
		if id == "" || !inBatch[id] {
			return nil, fmt.Errorf("invalid itemIdentifier %q in batch response", id)
		}
		failed[id] = true
	}
	return failed, nil
}

// delete removes messages with DeleteMessageBatch (10 per call, the API's limit).
func (p *poller) delete(ctx context.Context, msgs []types.Message) {
	for start := 0; start < len(msgs); start += 10 {
		chunk := msgs[start:min(start+10, len(msgs))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := p.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.src.QueueURL), Entries: entries})
		if err != nil {
			p.logf("DeleteMessageBatch failed, %d processed message(s) will be redelivered: %v", len(chunk), err)
			continue
		}
		for _, f := range out.Failed {
			id := aws.ToString(f.Id)
			if i, err := strconv.Atoi(id); err == nil && i >= 0 && i < len(chunk) {
				id = aws.ToString(chunk[i].MessageId)
			}
			p.logf("could not delete message %s: %s %s", id, aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
}

// queueName is the last path element of a queue URL, for log prefixes.
func queueName(url string) string {
	return url[strings.LastIndex(url, "/")+1:]
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
