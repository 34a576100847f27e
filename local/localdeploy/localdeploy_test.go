package localdeploy

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
