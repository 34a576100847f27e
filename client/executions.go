package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// ExecutionStatus values Get and List report besides Step Functions' own (RUNNING,
// SUCCEEDED, ABORTED, FAILED, TIMED_OUT, PENDING_REDRIVE).
const (
	// ExecutionNotFound: the row names an execution that does not exist: the call that
	// scheduled the push has not started it yet, or died before it did.
	ExecutionNotFound = "NOT_FOUND"
	// ExecutionUnknown: the execution could not be described (throttled, denied, the network);
	// the state is the schedules table's alone.
	ExecutionUnknown = "UNKNOWN"
)

// describeConcurrency bounds the DescribeExecution calls one List page has in flight. A page
// of 100 scheduled pushes then takes about 13 round trips rather than 100, and a page of
// 1,000 stays a burst Step Functions' request quota mostly absorbs; what it throttles is
// reported ExecutionUnknown rather than failing the page.
const describeConcurrency = 8

// overdue is how long after its due time a scheduled push whose execution was never started
// is reported not_started: the call that scheduled it is surely not still running.
const overdue = 10 * time.Minute

// economyOverdue is how long after its due time an economy push the sender has not taken is
// reported not_started. The sender takes the row at the due time (a schedule puts the push on
// the queue 60 to 180 s early, a delayed message at the second, and the sender holds either
// until then), so one still scheduled later was never put on the queue: the call that
// scheduled it died between the row and the schedule or message, or its schedule gave up
// (the scheduler's dead-letter queue). It is overdue's ten minutes plus five for what may
// delay the taking without losing anything: a receive that failed before the claim (back
// after the push queue's visibility timeout), Scheduler's invocation throttle in a very busy
// minute. A longer sender backlog is the OldestPush alarm's; the report is not final.
const economyOverdue = overdue + 5*time.Minute

// Get and List report a scheduled push by its row and its execution: a push whose execution
// was stopped (ABORTED) or failed (FAILED, TIMED_OUT) outside the client (StopExecution, the
// console) never reaches the sender, so its row stays "scheduled" forever; its execution
// tells at once. The schedules row stays the source of truth for what the client did: the
// execution is looked at only for a row that is scheduled, and a row changed by the client
// meanwhile (a Reschedule stops the old execution, a Cancel stops it too) wins.
//
// What is observed is not written back to the row. Get and List stay reads (no write
// permission, no write on a read), they cannot race Reschedule, Cancel or the sender's
// claim, whose conditional writes are the whole protocol (docs/CONTRACTS.md), and an
// observation need not be final: a failed execution can be redriven (RedriveExecution) and
// then runs again, and an execution stopped just as its wait ended may already have queued
// the push, which the sender then takes. The price is one DescribeExecution per scheduled
// push read, every time; Cancel or Reschedule puts such a row back under the client's control.

// observable reports whether a row's execution is looked at: only a scheduled row's, when
// it has one (a push sent now has none).
func observable(r *record) bool {
	return r.State == StateScheduled && r.ExecutionName != ""
}

// observe is the status of r, with what its execution says when the row is scheduled.
func (c *Client) observe(ctx context.Context, r *record) Status {
	st := c.status(r)
	if r.State == StateScheduled && r.Engine == EngineEconomy {
		// No execution to look at: the time tells (no AWS call).
		if late := c.now().Sub(r.DueAt); late > economyOverdue {
			st.Warning = fmt.Sprintf("not taken by the sender %v after its due time: the call that scheduled it did not finish, "+
				"or its schedule could not put it on the push queue", late.Truncate(time.Second))
			st.Outcome = &Outcome{Result: "not_started", Reason: "never put on the push queue: make the same call again to complete it " +
				"(Schedule or Reschedule, as it was made), or, if its schedule gave up, move it back from the scheduler's dead-letter queue " +
				"(pushctl redrive --source economy)"}
		}
		return st
	}
	if !observable(r) {
		return st
	}
	out, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(c.executionArn(r.ExecutionName))})
	if isCode(err, "ExecutionDoesNotExist") {
		st.ExecutionStatus = ExecutionNotFound
		st.Warning = "its execution " + r.ExecutionName + " does not exist: the call that scheduled the push has not started it yet, or did not finish"
		if c.now().Sub(r.DueAt) > overdue {
			st.Outcome = &Outcome{Result: "not_started", Reason: "its execution " + r.ExecutionName +
				" was never started: the call that scheduled it did not finish; make the same call again to start it"}
		}
		return st
	}
	if err != nil {
		st.ExecutionStatus = ExecutionUnknown
		st.Warning = fmt.Sprintf("the state is the schedules table's only: its execution %s could not be described: %v", r.ExecutionName, err)
		return st
	}
	st.ExecutionStatus = string(out.Status)
	if !ended(out.Status) {
		return st // RUNNING: waiting; SUCCEEDED: on the push queue, for the sender
	}
	// Stopped or failed. A Reschedule or Cancel of this client stops the execution too, after
	// changing the row: read the row again, and if it moved on, it says what the push is now.
	now, err := c.getRow(ctx, r.Key)
	if err != nil {
		st.Warning = fmt.Sprintf("its execution %s ended %s, but the schedules table could not be read again to tell whether the client did it: %v",
			r.ExecutionName, out.Status, err)
		return st
	}
	if now.Revision != r.Revision || now.State != r.State || now.ExecutionName != r.ExecutionName {
		return c.status(now)
	}
	st.State, st.TimeLeft = StateFailed, 0
	if out.Status == sfntypes.ExecutionStatusAborted {
		st.State = StateCancelled
	}
	st.Outcome = &Outcome{Result: "execution_" + strings.ToLower(string(out.Status)),
		Reason: strings.TrimSpace(fmt.Sprintf("its execution %s ended %s outside the client: %s %s", r.ExecutionName,
			out.Status, aws.ToString(out.Error), aws.ToString(out.Cause)))}
	if out.StopDate != nil {
		st.Outcome.FinishedAt = *out.StopDate
	}
	return st
}

// ended: the execution stopped without putting the push on the queue (ABORTED: stopped;
// FAILED: the send gave up or the input was refused; TIMED_OUT). PENDING_REDRIVE runs again.
func ended(s sfntypes.ExecutionStatus) bool {
	switch s {
	case sfntypes.ExecutionStatusAborted, sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut:
		return true
	}
	return false
}

// observeAll is the status of every row, in order, looking at the executions of the
// scheduled ones at most describeConcurrency at a time. A failed look never fails the whole:
// that row keeps its table state and says why (Status.Warning).
func (c *Client) observeAll(ctx context.Context, rows []*record) []Status {
	out := make([]Status, len(rows))
	slots := make(chan struct{}, describeConcurrency)
	var wg sync.WaitGroup
	for i, r := range rows {
		if !observable(r) {
			out[i] = c.observe(ctx, r) // the table and the clock only: no AWS call
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			out[i] = c.observe(ctx, r)
		})
	}
	wg.Wait()
	return out
}
