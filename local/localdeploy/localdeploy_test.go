package localdeploy

import (
	"github.com/delayed-push/delayed-push/local/motoapi"

	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// fakeAssembly writes a cloud assembly shaped like the one `cdk synth` makes for this app.
func fakeAssembly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "manifest.json"), `{
  "version": "54.0.0",
  "artifacts": {
    "App.assets": {"type": "cdk:asset-manifest", "properties": {"file": "App.assets.json",
      "requiresBootstrapStackVersion": 6, "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version"}},
    "App": {"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
      "properties": {"templateFile": "App.template.json",
        "stackTemplateAssetObjectUrl": "s3://cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/tpl.json",
        "requiresBootstrapStackVersion": 6, "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version"},
      "dependencies": ["App.assets"]},
    "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}
  }
}`, 0o644)
	writeFile(t, filepath.Join(dir, "App.assets.json"), `{
  "version": "54.0.0",
  "files": {
    "abc": {"displayName": "Fn/Code", "source": {"path": "asset.abc", "packaging": "zip"},
      "destinations": {"d1": {"bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}", "objectKey": "abc.zip"}}},
    "tpl": {"displayName": "App Template", "source": {"path": "App.template.json", "packaging": "file"},
      "destinations": {"d2": {"bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}", "objectKey": "tpl.json"}}}
  },
  "dockerImages": {}
}`, 0o644)
	writeFile(t, filepath.Join(dir, "App.template.json"), `{"Resources": {}}`, 0o644)
	writeFile(t, filepath.Join(dir, "asset.abc", "bootstrap"), "#!/bin/true\n", 0o755)
	writeFile(t, filepath.Join(dir, "asset.abc", "data", "x.txt"), "x", 0o644)
	return dir
}

func TestReadAssembly(t *testing.T) {
	dir := fakeAssembly(t)
	a, err := ReadAssembly(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Stack("")
	if err != nil {
		t.Fatal(err)
	}
	if st.StackName != "App" || st.TemplateFile != "App.template.json" ||
		st.BootstrapVersionParameter != "/cdk-bootstrap/hnb659fds/version" || st.RequiredBootstrapVersion != 6 {
		t.Fatalf("stack = %+v", st)
	}
	if _, err := a.Stack("Nope"); err == nil {
		t.Fatal("want an error for an unknown stack")
	}
	assets, err := a.FileAssets(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) != 2 || assets[0].Packaging != "zip" || assets[1].Packaging != "file" {
		t.Fatalf("assets = %+v", assets)
	}
	if got := substitutePseudo(assets[0].Bucket, "123456789012", "us-east-1"); got != "cdk-hnb659fds-assets-123456789012-us-east-1" {
		t.Fatalf("bucket = %s", got)
	}
}

func TestZipAssetKeepsModesAndIsReproducible(t *testing.T) {
	dir := fakeAssembly(t)
	a, _ := ReadAssembly(dir)
	st, _ := a.Stack("App")
	assets, _ := a.FileAssets(st)
	one, err := assets[0].Content()
	if err != nil {
		t.Fatal(err)
	}
	two, _ := assets[0].Content()
	if !bytes.Equal(one, two) {
		t.Fatal("zipping twice gave different bytes")
	}
	zr, err := zip.NewReader(bytes.NewReader(one), int64(len(one)))
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{}
	for _, f := range zr.File {
		modes[f.Name] = f.Mode()
	}
	if m, ok := modes["bootstrap"]; !ok || m.Perm()&0o100 == 0 {
		t.Fatalf("bootstrap missing or not executable: %v", modes)
	}
	if _, ok := modes["data/x.txt"]; !ok {
		t.Fatalf("data/x.txt missing: %v", modes)
	}
}

func TestStateMachineDefinitionAppliesSubstitutions(t *testing.T) {
	res := &Result{
		Account: "123456789012", Region: "us-east-1",
		Resources: map[string]Resource{
			"Queue": {LogicalID: "Queue", Type: "AWS::SQS::Queue", PhysicalID: "https://sqs.us-east-1.amazonaws.com/123456789012/q-1"},
			"Role":  {LogicalID: "Role", Type: "AWS::IAM::Role", PhysicalID: "role-1"},
		},
	}
	props := map[string]any{
		"DefinitionString": `{"QueueUrl": "${PushQueueUrl}", "Arn": "${QueueArn}", "R": "${Region}"}`,
		"DefinitionSubstitutions": map[string]any{
			"PushQueueUrl": map[string]any{"Ref": "Queue"},
			"QueueArn":     map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}},
			"Region":       map[string]any{"Ref": "AWS::Region"},
		},
	}
	got, err := stateMachineDefinition(res, props)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q-1", "Arn": "arn:aws:sqs:us-east-1:123456789012:q-1", "R": "us-east-1"}`
	if got != want {
		t.Fatalf("definition = %s", got)
	}
	role, err := resolve(res, map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}})
	if err != nil || role != "arn:aws:iam::123456789012:role/role-1" {
		t.Fatalf("role = %q, %v", role, err)
	}
	if _, err := resolve(res, map[string]any{"Ref": "Missing"}); err == nil {
		t.Fatal("want an error for a resource that was not created")
	}
}

// TestDeployIntoMoto deploys the real cdk.out into a running moto (local/scripts/moto-up.sh) when
// MOTO_ENDPOINT is set, e.g. MOTO_ENDPOINT=http://127.0.0.1:4566 go test ./local/localdeploy.
func TestDeployIntoMoto(t *testing.T) {
	endpoint := os.Getenv("MOTO_ENDPOINT")
	if endpoint == "" {
		// Opt-in because it resets the emulator; CI covers this deploy through make e2e (cmd/local serve).
		t.Skip("MOTO_ENDPOINT not set: opt-in, it resets that emulator; make e2e deploys the same way in CI")
	}
	assembly := filepath.Join("..", "..", "cdk.out")
	if _, err := os.Stat(filepath.Join(assembly, "manifest.json")); err != nil {
		t.Skip("no cdk.out to deploy: run make synth first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := motoapi.Reset(ctx, endpoint); err != nil {
		t.Fatal(err)
	}
	res, err := Deploy(ctx, Options{Endpoint: endpoint, Assembly: assembly, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "CREATE_COMPLETE" || res.Outputs["StateMachineArn"] == "" || res.Outputs["PushQueueUrl"] == "" {
		t.Fatalf("result = %+v", res)
	}
	cfg := NewConfig(endpoint, "us-east-1")
	sm, err := sfn.NewFromConfig(cfg).DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(res.Outputs["StateMachineArn"])})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(aws.ToString(sm.Definition), "${PushQueueUrl}") || !strings.Contains(aws.ToString(sm.Definition), res.Outputs["PushQueueUrl"]) {
		t.Fatalf("definition not substituted: %s", aws.ToString(sm.Definition))
	}
	esms, err := lambda.NewFromConfig(cfg).ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range esms.EventSourceMappings {
		if aws.ToString(m.State) != "Disabled" {
			b, _ := json.Marshal(m)
			t.Fatalf("event source mapping still enabled: %s", b)
		}
	}
	// The stack's queue URL (https://sqs.<region>.amazonaws.com/...) works against the emulator,
	// and with the mapping disabled a message is received once, by us.
	q := sqs.NewFromConfig(cfg)
	url := aws.String(res.Outputs["PushQueueUrl"])
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(`{"probe":1}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || got.Messages[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("received %+v", got.Messages)
	}
}
