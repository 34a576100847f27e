package localrun

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/faultproxy"
	"github.com/delayed-push/delayed-push/local/localdeploy"
	"github.com/delayed-push/delayed-push/local/motoapi"
)

// PlatformApplicationName is the SNS application the stack publishes through by default.
const PlatformApplicationName = "delayed-push"

// Stack is a client for a stack running on the emulator: what a backend and a device would
// see. The demo and the end-to-end tests use it.
type Stack struct {
	Endpoint string
	// StateDir is the runner's state directory (.local): the cloud assembly, stack.json and
	// runner.log.
	StateDir string
	// APIEndpoint is where the stack's HTTP API is served locally ("" without one), and
	// APIJWTEndpoint the same API in JWT mode (apiJwtIssuer; its issuer's key is in StateDir).
	APIEndpoint    string
	APIJWTEndpoint string
	Outputs        map[string]string
	// Faults drives the fault proxy between the stack's functions and the emulator.
	Faults   faultproxy.Client
	SFN      *sfn.Client
	SQS      *sqs.Client
	SNS      *sns.Client
	DynamoDB *dynamodb.Client
	// Scheduler is EventBridge Scheduler on the emulator (the economy engine's schedules).
	Scheduler *scheduler.Client
}

// RepoRoot is the repository's top directory (the one with cdk.json), found from the working
// directory upwards; "." when there is none. The local state (.local) and tools (.venv) are
// there.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

// Connect reads the outputs of the stack `local serve` runs on the emulator at endpoint, from
// its state directory (the cloud assembly in cdk.out, the fault proxy in stack.json).
func Connect(ctx context.Context, endpoint, stateDir string) (*Stack, error) {
	res, err := localdeploy.Describe(ctx, localdeploy.Options{Endpoint: endpoint, Assembly: filepath.Join(stateDir, "cdk.out"), SkipMotoFixes: true})
	if err != nil {
		return nil, fmt.Errorf("the stack is not deployed on %s (run make local): %w", endpoint, err)
	}
	var state struct {
		FaultProxy     string `json:"faultProxy"`
		APIEndpoint    string `json:"apiEndpoint"`
		APIJWTEndpoint string `json:"apiJwtEndpoint"`
	}
	if raw, err := os.ReadFile(filepath.Join(stateDir, "stack.json")); err == nil {
		_ = json.Unmarshal(raw, &state)
	}
	cfg := localdeploy.NewConfig(endpoint, res.Region)
	return &Stack{
		Endpoint:       endpoint,
		StateDir:       stateDir,
		APIEndpoint:    state.APIEndpoint,
		APIJWTEndpoint: state.APIJWTEndpoint,
		Outputs:        res.Outputs,
		Faults:         faultproxy.Client{URL: state.FaultProxy},
		SFN:            sfn.NewFromConfig(cfg),
		SQS:            sqs.NewFromConfig(cfg),
		SNS:            sns.NewFromConfig(cfg),
		DynamoDB:       dynamodb.NewFromConfig(cfg),
		Scheduler:      scheduler.NewFromConfig(cfg),
	}, nil
}

// ConnectFromEnv connects to the stack where the test suites look for it: LOCAL_ENDPOINT, or
// 127.0.0.1 on LOCAL_PORT (4566 by default, as in the Makefile), with its state in LOCAL_STATE,
// or .local at the repository's root (where local/scripts/local-up.sh puts it).
func ConnectFromEnv(ctx context.Context) (*Stack, error) {
	endpoint := os.Getenv("LOCAL_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:" + cmp.Or(os.Getenv("LOCAL_PORT"), "4566")
	}
	return Connect(ctx, endpoint, cmp.Or(os.Getenv("LOCAL_STATE"), filepath.Join(RepoRoot(), ".local")))
}

// ConnectOrExit is ConnectFromEnv for the TestMain of the suite run by `make <suite>`: when
// the stack is not there it says how to start it and exits.
func ConnectOrExit(suite string) *Stack {
	s, err := ConnectFromEnv(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v - start the local stack with local/scripts/local-up.sh (make %s does)\n", suite, err, suite)
		os.Exit(1)
	}
	return s
}

// RunnerLog is the log of the stack's functions in a state directory (every line prefixed
// with "[function] "): where the sender reports on each push.
func RunnerLog(stateDir string) string { return filepath.Join(stateDir, "runner.log") }

// LogPath is the runner's log of this stack (RunnerLog).
func (s *Stack) LogPath() string { return RunnerLog(s.StateDir) }

// Output returns a stack output, or an error naming it.
func (s *Stack) Output(key string) (string, error) {
	v, ok := s.Outputs[key]
	if !ok || v == "" {
		return "", fmt.Errorf("the stack has no output %s", key)
	}
	return v, nil
}

// RegisterDevice does what an app backend does when a device reports its FCM token: it
// creates the SNS platform endpoint (and the platform application on first use) and records
// the endpoint for the user in the device registry.
func (s *Stack) RegisterDevice(ctx context.Context, userID, token string) (string, error) {
	app, err := s.SNS.CreatePlatformApplication(ctx, &sns.CreatePlatformApplicationInput{
		Name:       aws.String(PlatformApplicationName),
		Platform:   aws.String("GCM"),
		Attributes: map[string]string{"PlatformCredential": "local-emulator-has-no-fcm-credential"},
	})
	if err != nil {
		return "", fmt.Errorf("creating the platform application: %w", err)
	}
	ep, err := s.SNS.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{
		PlatformApplicationArn: app.PlatformApplicationArn,
		Token:                  aws.String(token),
	})
	if err != nil {
		return "", fmt.Errorf("creating the platform endpoint: %w", err)
	}
	table, err := s.Output("DevicesTableName")
	if err != nil {
		return "", err
	}
	_, err = s.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]ddbtypes.AttributeValue{
			"userId":      &ddbtypes.AttributeValueMemberS{Value: userID},
			"endpointArn": &ddbtypes.AttributeValueMemberS{Value: aws.ToString(ep.EndpointArn)},
			"platform":    &ddbtypes.AttributeValueMemberS{Value: "FCM"},
			"createdAt":   &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339)},
		},
	})
	if err != nil {
		return "", fmt.Errorf("registering the device: %w", err)
	}
	return aws.ToString(ep.EndpointArn), nil
}

// Deliveries returns what SNS accepted for one endpoint so far, in publish order.
func (s *Stack) Deliveries(ctx context.Context, endpointArn string) ([]motoapi.Delivery, error) {
	_, got, err := motoapi.EndpointMessages(ctx, s.Endpoint, endpointArn, 0)
	return got, err
}

// WaitForDeliveries polls until the endpoint has at least n deliveries and returns them with
// the time the n-th was first seen, or fails after timeout.
func (s *Stack) WaitForDeliveries(ctx context.Context, endpointArn string, n int, timeout time.Duration) ([]motoapi.Delivery, time.Time, error) {
	var got []motoapi.Delivery
	err := poll(ctx, timeout, func() (bool, error) {
		var err error
		got, err = s.Deliveries(ctx, endpointArn)
		return len(got) >= n, err
	})
	if errors.Is(err, ErrTimeout) {
		return got, time.Time{}, fmt.Errorf("%s got %d of %d pushes within %s", endpointArn, len(got), n, timeout)
	}
	return got, time.Now(), err
}

// ErrTimeout is what Poll returns when its condition did not come true in time.
var ErrTimeout = errors.New("timed out")

// Poll calls done every `every` until it reports true or an error, ctx ends, or timeout
// passes (ErrTimeout). Every wait of the local tests is this loop.
func Poll(ctx context.Context, timeout, every time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	return Poll(ctx, timeout, 100*time.Millisecond, done)
}

// WaitExecution polls an execution until it is no longer running, or timeout, and returns
// its last description.
func (s *Stack) WaitExecution(ctx context.Context, arn *string, timeout time.Duration) (*sfn.DescribeExecutionOutput, error) {
	var out *sfn.DescribeExecutionOutput
	err := poll(ctx, timeout, func() (bool, error) {
		var err error
		out, err = s.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: arn})
		return err == nil && out.Status != sfntypes.ExecutionStatusRunning, err
	})
	if errors.Is(err, ErrTimeout) {
		return out, nil // still running: the caller looks at the status
	}
	return out, err
}

// DeliveryRecord returns the delivery log record of a push to an endpoint, as plain strings
// (numbers in their decimal form), or nil when there is none.
func (s *Stack) DeliveryRecord(ctx context.Context, pushID, endpointArn string) (map[string]string, error) {
	table, err := s.Output("DeliveriesTableName")
	if err != nil {
		return nil, err
	}
	out, err := s.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{
			"pushId":      &ddbtypes.AttributeValueMemberS{Value: pushID},
			"endpointArn": &ddbtypes.AttributeValueMemberS{Value: endpointArn},
		},
	})
	if err != nil || out.Item == nil {
		return nil, err
	}
	rec := map[string]string{}
	for k, v := range out.Item {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			rec[k] = v.Value
		case *ddbtypes.AttributeValueMemberN:
			rec[k] = v.Value
		}
	}
	return rec, nil
}

// SenderReport is the sender's log line about one push.
type SenderReport struct {
	PushID     string  `json:"pushId"`
	Outcome    string  `json:"outcome"`
	Time       string  `json:"time"`
	Action     string  `json:"action"`
	Reason     string  `json:"reason"`
	Sent       int     `json:"sent"`
	Duplicates int     `json:"duplicates"`
	Pending    int     `json:"pending"`
	LatenessMs float64 `json:"latenessMs"`
	Engine     string  `json:"engine"`
	DueSource  string  `json:"dueSource"`
	Error      string  `json:"error"`
	Field      string  `json:"field"`
}

// SenderReports reads the sender's JSON log lines about pushID from the runner's log file
// (lines are prefixed with "[function] " by the local Lambda host).
func SenderReports(logPath, pushID string) ([]SenderReport, error) {
	all, err := readReports(logPath, `"pushId":"`+pushID+`"`)
	return all[pushID], err
}

// AllSenderReports reads every "push processed" line of the runner's log, by push id, in
// log order: one pass over the file, for the load tests.
func AllSenderReports(logPath string) (map[string][]SenderReport, error) {
	return readReports(logPath, `"msg":"push processed"`)
}

func readReports(logPath, must string) (map[string][]SenderReport, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]SenderReport{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, must) {
			continue
		}
		var r SenderReport
		if err := json.Unmarshal([]byte(line[i:]), &r); err != nil || r.Outcome == "" {
			continue
		}
		out[r.PushID] = append(out[r.PushID], r)
	}
	return out, sc.Err()
}

// ErrNoReport is returned by WaitForReport when the sender never logged the push.
var ErrNoReport = errors.New("the sender logged nothing about the push")

// WaitForReport polls the runner's log until the sender has reported on pushID.
func WaitForReport(ctx context.Context, logPath, pushID string, timeout time.Duration) (SenderReport, error) {
	var reports []SenderReport
	err := poll(ctx, timeout, func() (bool, error) {
		var err error
		reports, err = SenderReports(logPath, pushID)
		return len(reports) > 0, err
	})
	if errors.Is(err, ErrTimeout) {
		return SenderReport{}, fmt.Errorf("%w %s within %s (log %s)", ErrNoReport, pushID, timeout, logPath)
	}
	if err != nil {
		return SenderReport{}, err
	}
	return reports[len(reports)-1], nil
}

// ParkedID is the pushId attribute the sender parks a message with ("" on a message the queue
// moved to the dead-letter queue by itself).
func ParkedID(m sqstypes.Message) string {
	if a, ok := m.MessageAttributes["pushId"]; ok {
		return aws.ToString(a.StringValue)
	}
	return ""
}

// WaitParked polls the dead-letter queue until a message parked under pushID (ParkedID) is
// there, and returns it; it stays on the queue (invisible for a few seconds).
func (s *Stack) WaitParked(ctx context.Context, pushID string, timeout time.Duration) (sqstypes.Message, error) {
	got, err := s.WaitDeadLetters(ctx, []string{pushID}, ParkedID, 5*time.Second, timeout)
	if errors.Is(err, ErrTimeout) {
		return sqstypes.Message{}, fmt.Errorf("no message parked for push %s within %s", pushID, timeout)
	}
	if err != nil {
		return sqstypes.Message{}, err
	}
	return got[pushID][0], nil
}

// WaitDeadLetters polls the dead-letter queue until it has received a message for every key
// (keyOf tells a message's key) and returns them by key, each message once (by its id, under
// its latest receipt handle). They stay hidden for hold, so that nobody else takes them
// meanwhile; the caller gives them back (GiveBack) or deletes them. Other messages are made
// visible again at once, for whoever looks for them. ErrTimeout (wrapped) when a key is missing.
func (s *Stack) WaitDeadLetters(ctx context.Context, keys []string, keyOf func(sqstypes.Message) string, hold, timeout time.Duration) (map[string][]sqstypes.Message, error) {
	dlq, err := s.Output("DeadLetterQueueUrl")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	byID := map[string]sqstypes.Message{}
	found := map[string]bool{}
	err = poll(ctx, timeout, func() (bool, error) {
		out, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: int32(hold.Seconds()),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return false, err
		}
		for _, m := range out.Messages {
			if k := keyOf(m); want[k] {
				byID[aws.ToString(m.MessageId)] = m
				found[k] = true
				continue
			}
			_ = s.GiveBack(ctx, m)
		}
		return len(found) == len(want), nil
	})
	if err != nil {
		return nil, fmt.Errorf("on the dead-letter queue: %d of %v: %w", len(found), keys, err)
	}
	out := map[string][]sqstypes.Message{}
	for _, m := range byID {
		out[keyOf(m)] = append(out[keyOf(m)], m)
	}
	return out, nil
}

// GiveBack makes messages received from the dead-letter queue visible again at once.
func (s *Stack) GiveBack(ctx context.Context, msgs ...sqstypes.Message) error {
	dlq, err := s.Output("DeadLetterQueueUrl")
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if _, err := s.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			return err
		}
	}
	return nil
}

// Redrive moves a parked message back to the push queue, as `aws sqs start-message-move-task
// --destination-arn <push queue>` does: same body and attributes, removed from the DLQ.
func (s *Stack) Redrive(ctx context.Context, m sqstypes.Message) error {
	queue, err := s.Output("PushQueueUrl")
	if err != nil {
		return err
	}
	dlq, err := s.Output("DeadLetterQueueUrl")
	if err != nil {
		return err
	}
	if _, err := s.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(queue), MessageBody: m.Body, MessageAttributes: m.MessageAttributes,
	}); err != nil {
		return fmt.Errorf("redrive: %w", err)
	}
	_, err = s.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle})
	return err
}

// ClientResources are the Go client's Resources of the stack, read from its outputs as
// client.ResourcesFromStack reads them from AWS (the economy engine's included).
func (s *Stack) ClientResources(ctx context.Context) (client.Resources, error) {
	res, _, err := client.ResourcesFromStack(ctx, outputsDescriber(s.Outputs), "DelayedPush")
	return res, err
}

// Client is a Go client of the stack, on the emulator's clients (both engines).
func (s *Stack) Client(ctx context.Context) (*client.Client, error) {
	res, err := s.ClientResources(ctx)
	if err != nil {
		return nil, err
	}
	return client.NewWith(res, s.SFN, s.SQS, s.Scheduler, s.DynamoDB, nil), nil
}

// outputsDescriber answers DescribeStacks with outputs already read from the emulator.
type outputsDescriber map[string]string

func (o outputsDescriber) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	st := cftypes.Stack{StackName: in.StackName}
	for k, v := range o {
		st.Outputs = append(st.Outputs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{st}}, nil
}
