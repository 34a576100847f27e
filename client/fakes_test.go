package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/push"
)

const machineArn = "arn:aws:states:eu-west-1:123456789012:stateMachine:DelayedPush"

// The economy engine's resources.
const (
	groupName = "DelayedPush-Schedules"
	roleArn   = "arn:aws:iam::123456789012:role/DelayedPush-Scheduler"
	dlqArn    = "arn:aws:sqs:eu-west-1:123456789012:DelayedPush-SchedulerDLQ"
	queueArn  = "arn:aws:sqs:eu-west-1:123456789012:DelayedPush-Pushes"
)

// resources are the in-memory stack's, with the economy engine's outputs (the default
// engine is Step Functions).
func resources() client.Resources {
	return client.Resources{StateMachineArn: machineArn, PushQueueURL: "https://sqs/q", SchedulesTable: "schedules",
		ScheduleGroupName: groupName, SchedulerRoleArn: roleArn, SchedulerDeadLetterQueueArn: dlqArn, PushQueueArn: queueArn,
		EconomyScheduleAfter: 900 * time.Second}
}

type execution struct {
	input  string
	status sfntypes.ExecutionStatus
	start  time.Time
}

// fakeSFN keeps executions as Step Functions does: a name is used once; a repeated start
// with the same input succeeds only while the execution runs.
type fakeSFN struct {
	mu      sync.Mutex
	execs   map[string]*execution // by name
	starts  int
	stops   []string
	failErr error // returned by the next StartExecution
	now     func() time.Time

	// DescribeExecution: describeErr answers for an execution by name; beforeDescribe runs
	// first, unlocked (a call racing the describe); describeDelay holds each call, and
	// describes, inFlight and maxInFlight count them.
	describeErr                      map[string]error
	beforeDescribe                   func(name string)
	describeDelay                    time.Duration
	describes, inFlight, maxInFlight int
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil {
		err := f.failErr
		f.failErr = nil
		return nil, err
	}
	name := aws.ToString(in.Name)
	arn := strings.Replace(machineArn, ":stateMachine:", ":execution:", 1) + ":" + name
	if e, ok := f.execs[name]; ok {
		if e.status == sfntypes.ExecutionStatusRunning && e.input == aws.ToString(in.Input) {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(e.start)}, nil
		}
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + arn + "'")}
	}
	f.starts++
	f.execs[name] = &execution{input: aws.ToString(in.Input), status: sfntypes.ExecutionStatusRunning, start: f.now()}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(f.now())}, nil
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := nameOf(aws.ToString(in.ExecutionArn))
	f.stops = append(f.stops, name)
	if e, ok := f.execs[name]; ok && e.status == sfntypes.ExecutionStatusRunning {
		e.status = sfntypes.ExecutionStatusAborted
	}
	return &sfn.StopExecutionOutput{}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	name := nameOf(aws.ToString(in.ExecutionArn))
	f.mu.Lock()
	hook := f.beforeDescribe
	f.beforeDescribe = nil
	f.describes++
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	if hook != nil {
		hook(name)
	}
	time.Sleep(f.describeDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	if err := f.describeErr[name]; err != nil {
		return nil, err
	}
	e, ok := f.execs[name]
	if !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist")}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Input: aws.String(e.input), Status: e.status, StartDate: aws.Time(e.start)}, nil
}

// end ends a running execution outside the client, as StopExecution (ABORTED), a send that
// gave up (FAILED) or a timeout (TIMED_OUT) would.
func (f *fakeSFN) end(t *testing.T, name string, status sfntypes.ExecutionStatus) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.execs[name]
	require.True(t, ok, "execution %s exists", name)
	e.status = status
}

func (f *fakeSFN) describeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.describes
}

func nameOf(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// fire is the execution's Wait ending: the push goes on the queue and the execution succeeds.
// It returns the push the sender would receive.
func (f *fakeSFN) fire(t *testing.T, name string) push.Push {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.execs[name]
	require.True(t, ok, "execution %s exists", name)
	require.Equal(t, sfntypes.ExecutionStatusRunning, e.status, "execution %s runs", name)
	e.status = sfntypes.ExecutionStatusSucceeded
	var in struct {
		Push json.RawMessage `json:"push"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.input), &in))
	p, err := push.Decode(in.Push)
	require.NoError(t, err)
	return p
}

type fakeSQS struct {
	mu     sync.Mutex
	bodies []string
	delays []int32 // each message's DelaySeconds
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, aws.ToString(in.MessageBody))
	f.delays = append(f.delays, in.DelaySeconds)
	return &sqs.SendMessageOutput{MessageId: aws.String("m-1")}, nil
}

// fakeScheduler keeps schedules as EventBridge Scheduler does: a name is used once in its
// group (ConflictException); an unknown one is ResourceNotFoundException.
type fakeScheduler struct {
	mu        sync.Mutex
	schedules map[string]*scheduler.CreateScheduleInput // by group/name
	creates   int
	deletes   []string
	// failAfter is returned by the next CreateSchedule after it created the schedule (the
	// answer lost on the way); failErr instead of creating it.
	failAfter, failErr error
}

func (f *fakeScheduler) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failErr; err != nil {
		f.failErr = nil
		return nil, err
	}
	id := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if _, ok := f.schedules[id]; ok {
		return nil, &schedulertypes.ConflictException{Message: aws.String("Schedule " + aws.ToString(in.Name) + " already exists.")}
	}
	f.creates++
	f.schedules[id] = in
	if err := f.failAfter; err != nil {
		f.failAfter = nil
		return nil, err
	}
	return &scheduler.CreateScheduleOutput{ScheduleArn: aws.String("arn:aws:scheduler:eu-west-1:123456789012:schedule/" + id)}, nil
}

func (f *fakeScheduler) GetSchedule(_ context.Context, in *scheduler.GetScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sc, ok := f.schedules[aws.ToString(in.GroupName)+"/"+aws.ToString(in.Name)]
	if !ok {
		return nil, &schedulertypes.ResourceNotFoundException{Message: aws.String("Schedule not found.")}
	}
	return &scheduler.GetScheduleOutput{Name: sc.Name, GroupName: sc.GroupName, ScheduleExpression: sc.ScheduleExpression,
		ScheduleExpressionTimezone: sc.ScheduleExpressionTimezone, Target: sc.Target, ActionAfterCompletion: sc.ActionAfterCompletion}, nil
}

func (f *fakeScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	f.deletes = append(f.deletes, aws.ToString(in.Name))
	if _, ok := f.schedules[id]; !ok {
		return nil, &schedulertypes.ResourceNotFoundException{Message: aws.String("Schedule not found.")}
	}
	delete(f.schedules, id)
	return &scheduler.DeleteScheduleOutput{}, nil
}

// get is the schedule named name in the economy group, or nil.
func (f *fakeScheduler) get(name string) *scheduler.CreateScheduleInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.schedules[groupName+"/"+name]
}

// fire is the schedule running: its input goes on the queue (returned, as the sender would
// decode it) and, ActionAfterCompletion DELETE, the schedule is gone.
func (f *fakeScheduler) fire(t *testing.T, name string) push.Push {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	sc, ok := f.schedules[groupName+"/"+name]
	require.True(t, ok, "schedule %s exists", name)
	delete(f.schedules, groupName+"/"+name)
	p, err := push.Decode([]byte(aws.ToString(sc.Target.Input)))
	require.NoError(t, err)
	return p
}

// world is a client and the sender's side of the same schedules table.
type world struct {
	c      *client.Client
	sfn    *fakeSFN
	sqs    *fakeSQS
	sched  *fakeScheduler
	table  *ddbfake.Table
	sender *awsadapters.Schedules
	now    time.Time
}

func newWorld() *world { return newWorldWith(resources()) }

// newWorldWith is newWorld on other resources.
func newWorldWith(res client.Resources) *world {
	w := &world{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), sqs: &fakeSQS{}, sched: &fakeScheduler{schedules: map[string]*scheduler.CreateScheduleInput{}}}
	w.table = ddbfake.New(index.Key)
	w.table.Indexes = map[string]ddbfake.Index{index.PendingIndex: {PartitionKey: index.PendingRecipient, SortKey: index.DueAt}}
	clock := func() time.Time { return w.now }
	w.sfn = &fakeSFN{execs: map[string]*execution{}, now: clock}
	w.c = client.NewWith(res, w.sfn, w.sqs, w.sched, w.table, clock)
	w.sender = &awsadapters.Schedules{Client: w.table, Table: "schedules"}
	return w
}

// begin is the sender receiving p: what the schedules index tells it.
func (w *world) begin(t *testing.T, p push.Push) delivery.Gate {
	t.Helper()
	g, _, err := w.sender.Begin(context.Background(), p.ID, p.Revision, w.now)
	require.NoError(t, err)
	return g
}

func startInput(name, input string) *sfn.StartExecutionInput {
	return &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String(name), Input: aws.String(input)}
}

// exampleClient is a client on an in-memory stack whose clock stands at 09:00 UTC on
// 1 December 2026, for the examples; exampleFire ends the wait of an execution and hands its
// push to the sender, which sends it.
var exampleWorld = newWorld()

func exampleClient() *client.Client { return exampleWorld.c }

func exampleFire(name string) {
	t := &testing.T{}
	p := exampleWorld.sfn.fire(t, name)
	ctx := context.Background()
	if g, _, _ := exampleWorld.sender.Begin(ctx, p.ID, p.Revision, exampleWorld.now); g == delivery.GateSend {
		late := int64(412)
		_ = exampleWorld.sender.Finish(ctx, p.ID, p.Revision, delivery.Finish{State: index.Sent, Result: delivery.OutcomeSent,
			Now: exampleWorld.now, LatenessMs: &late, Endpoints: 2, Sent: 2})
	}
}
