package localrun

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/internal/localdeploy"
	"github.com/delayed-push/delayed-push/internal/motoapi"
)

// PlatformApplicationName is the SNS application the stack publishes through by default.
const PlatformApplicationName = "delayed-push"

// Stack is a client for a stack running on the emulator: what a backend and a device would
// see. The demo and the end-to-end tests use it.
type Stack struct {
	Endpoint string
	Outputs  map[string]string
	SFN      *sfn.Client
	SQS      *sqs.Client
	SNS      *sns.Client
	DynamoDB *dynamodb.Client
}

// Connect reads the outputs of the deployed stack from the emulator at endpoint.
func Connect(ctx context.Context, endpoint, assembly string) (*Stack, error) {
	res, err := localdeploy.Describe(ctx, localdeploy.Options{Endpoint: endpoint, Assembly: assembly, SkipMotoFixes: true})
	if err != nil {
		return nil, fmt.Errorf("the stack is not deployed on %s (run make local): %w", endpoint, err)
	}
	cfg := localdeploy.NewConfig(endpoint, res.Region)
	return &Stack{
		Endpoint: endpoint,
		Outputs:  res.Outputs,
		SFN:      sfn.NewFromConfig(cfg),
		SQS:      sqs.NewFromConfig(cfg),
		SNS:      sns.NewFromConfig(cfg),
		DynamoDB: dynamodb.NewFromConfig(cfg),
	}, nil
}

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

// Deliveries returns what SNS accepted for one endpoint so far.
// moto builds data.json from live objects and now and then fails (HTTP 500) while other
// requests change them, so a failed read is tried again a few times.
func (s *Stack) Deliveries(ctx context.Context, endpointArn string) ([]motoapi.Delivery, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var all map[string][]motoapi.Delivery
		if all, err = motoapi.Deliveries(ctx, s.Endpoint); err == nil {
			return all[endpointArn], nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return nil, err
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
	if errors.Is(err, errTimeout) {
		return got, time.Time{}, fmt.Errorf("%s got %d of %d pushes within %s", endpointArn, len(got), n, timeout)
	}
	return got, time.Now(), err
}

var errTimeout = errors.New("timed out")

// poll calls done every 100 ms until it reports true or an error, ctx ends, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
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
	LatenessMs float64 `json:"latenessMs"`
	DueSource  string  `json:"dueSource"`
	Error      string  `json:"error"`
	Field      string  `json:"field"`
}

// SenderReports reads the sender's JSON log lines about pushID from the runner's log file
// (lines are prefixed with "[function] " by the local Lambda host).
func SenderReports(logPath, pushID string) ([]SenderReport, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []SenderReport
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, `"pushId":"`+pushID+`"`) {
			continue
		}
		var r SenderReport
		if err := json.Unmarshal([]byte(line[i:]), &r); err != nil || r.PushID != pushID || r.Outcome == "" {
			continue
		}
		out = append(out, r)
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
	if errors.Is(err, errTimeout) {
		return SenderReport{}, fmt.Errorf("%w %s within %s (log %s)", ErrNoReport, pushID, timeout, logPath)
	}
	if err != nil {
		return SenderReport{}, err
	}
	return reports[len(reports)-1], nil
}
