package stacks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// GoFunctionProps configures a Go Lambda function built from this repository during synth.
type GoFunctionProps struct {
	awslambda.FunctionProps
	// Package is the handler's main package relative to the module root, e.g. "./lambdas/sender".
	Package string
}

// NewGoFunction builds Package with the local Go toolchain (no Docker) into a stripped arm64
// `bootstrap` for the provided.al2023 runtime. Code, Runtime, Architecture and Handler of the
// props are set here; the rest is passed through.
func NewGoFunction(scope constructs.Construct, id string, props *GoFunctionProps) awslambda.Function {
	root, err := moduleRoot()
	if err != nil {
		panic(err)
	}
	b := &goBundler{moduleRoot: root, pkg: props.Package, goarch: "arm64"}
	hash, err := b.sourceHash()
	if err != nil {
		panic(fmt.Errorf("hashing %s: %w", props.Package, err))
	}
	fp := props.FunctionProps
	fp.Runtime = awslambda.Runtime_PROVIDED_AL2023()
	fp.Architecture = awslambda.Architecture_ARM_64()
	fp.Handler = jsii.String("bootstrap")
	fp.Code = awslambda.Code_FromAsset(jsii.String(filepath.Join(root, props.Package)), &awss3assets.AssetOptions{
		// The hash covers exactly what the binary is built from, so unchanged handlers are
		// neither rebuilt nor re-uploaded.
		AssetHash:     jsii.String(hash),
		AssetHashType: awscdk.AssetHashType_CUSTOM,
		Bundling: &awscdk.BundlingOptions{
			// Never pulled: local bundling always succeeds or fails the synth.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("local-go-build-only")),
			Local: b,
		},
	})
	return awslambda.NewFunction(scope, jsii.String(id), &fp)
}

// goBundler implements awscdk.ILocalBundling with `go build`.
type goBundler struct {
	moduleRoot string
	pkg        string
	goarch     string
}

func (b *goBundler) env() []string {
	return append(os.Environ(), "GOOS=linux", "GOARCH="+b.goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
}

// TryBundle is called by the CDK during synth with the asset's output directory.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc",
		"-ldflags", "-s -w -buildid=", "-o", filepath.Join(*outputDir, "bootstrap"), b.pkg)
	cmd.Dir = b.moduleRoot
	cmd.Env = b.env()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		// Returning false would make the CDK try Docker, whose error would hide this one.
		panic(fmt.Errorf("go build %s for linux/%s: %w", b.pkg, b.goarch, err))
	}
	return jsii.Bool(true)
}

// sourceHash is a sha256 of the build settings, go.mod, go.sum and every Go file of the
// in-module packages the handler imports.
func (b *goBundler) sourceHash() (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}`, b.pkg)
	cmd.Dir = b.moduleRoot
	cmd.Env = b.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	files := []string{filepath.Join(b.moduleRoot, "go.mod"), filepath.Join(b.moduleRoot, "go.sum")}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, f := range fields[1:] {
			files = append(files, filepath.Join(fields[0], f))
		}
	}
	sort.Strings(files[2:])
	h := sha256.New()
	fmt.Fprintf(h, "linux/%s lambda.norpc -s -w\n", b.goarch)
	for _, f := range files {
		rel, _ := filepath.Rel(b.moduleRoot, f)
		fmt.Fprintf(h, "%s\n", filepath.ToSlash(rel))
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// moduleRoot finds the directory holding go.mod from the working directory upwards, so the app
// synthesizes the same from the repository root (cdk) and from test/ (go test).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}
