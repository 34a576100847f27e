package pushctl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/client"
)

// Pushes is what pushctl asks of the client (a *client.Client).
type Pushes interface {
	Schedule(ctx context.Context, r client.Request) (client.Scheduled, error)
	Get(ctx context.Context, key string) (client.Status, error)
	Cancel(ctx context.Context, key string) (client.Status, error)
	Reschedule(ctx context.Context, key string, ch client.Change) (client.Scheduled, error)
	List(ctx context.Context, o client.ListOptions) (client.Page, error)
}

// Scanner reads the delivery log (accuracy).
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Queues moves messages from the dead-letter queue (redrive).
type Queues interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Backend is the deployed stack as pushctl sees it.
type Backend struct {
	Pushes  Pushes
	Devices Devices
	Prefs   Prefs
	Scanner Scanner
	Queues  Queues
	Outputs map[string]string // the stack's outputs
}

// Target says where the stack is.
type Target struct {
	Stack  string
	Region string
	// Local: the stack on the local emulator, whose state directory (.local, with
	// stack.json) is LocalState, or found upwards from the working directory.
	Local      bool
	LocalState string
}

// Connect finds the stack's resources by its name (CloudFormation outputs) and builds the
// AWS clients.
func Connect(ctx context.Context, t Target) (*Backend, error) {
	var opts []func(*config.LoadOptions) error
	if t.Region != "" {
		opts = append(opts, config.WithRegion(t.Region))
	}
	var endpoint string
	if t.Local {
		var err error
		if endpoint, err = localEndpoint(t.LocalState); err != nil {
			return nil, err
		}
		opts = append(opts, config.WithRegion("us-east-1"),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	res, outputs, err := client.ResourcesFromStack(ctx, cloudformation.NewFromConfig(cfg), t.Stack)
	if err != nil {
		return nil, err
	}
	c := client.New(cfg, res)
	return &Backend{
		Pushes:  c,
		Devices: c,
		Prefs:   c,
		Scanner: dynamodb.NewFromConfig(cfg),
		Queues:  sqs.NewFromConfig(cfg),
		Outputs: outputs,
	}, nil
}

// localEndpoint reads the emulator's endpoint from the local stack's state (stack.json).
func localEndpoint(state string) (string, error) {
	if state == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, ".local", "stack.json")); err == nil {
				state = filepath.Join(dir, ".local")
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return "", fmt.Errorf("--local: no local stack (.local/stack.json) here or above; start one with make local")
			}
			dir = parent
		}
	}
	raw, err := os.ReadFile(filepath.Join(state, "stack.json"))
	if err != nil {
		return "", fmt.Errorf("--local: %w; start the local stack with make local", err)
	}
	var st struct {
		Endpoint string `json:"endpoint"`
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.Endpoint == "" {
		return "", fmt.Errorf("--local: %s has no endpoint", filepath.Join(state, "stack.json"))
	}
	return st.Endpoint, nil
}

// now is the clock of the output (time left); tests set it.
var now = time.Now
