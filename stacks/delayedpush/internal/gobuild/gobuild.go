// Package gobuild builds the construct's Go Lambdas during synth with the local Go toolchain.
package gobuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FunctionProps configures a Go Lambda function built during synth.
type FunctionProps struct {
	awslambda.FunctionProps
	// Package is the import path of the handler's main package, e.g.
	// "github.com/delayed-push/delayed-push/lambdas/sender". It is built in the Go module of
	// the app being synthesized (the working directory's), which must require it: this
	// repository's own app does, and so does any app that imports the construct.
	Package string
}

// NewFunction builds Package with the local Go toolchain (no Docker) into a stripped arm64
// `bootstrap` for the provided.al2023 runtime. Code, Runtime, Architecture and Handler of the
// props are set here; Tracing defaults to active, LoggingFormat to JSON, and a function with a
// LogGroup and no Role gets a role that writes only to that group; the rest is passed through.
// The package's sources are only read: they may sit in the read-only module cache.
func NewFunction(scope constructs.Construct, id string, props *FunctionProps) awslambda.Function {
	b, err := newGoBundler(props.Package, "arm64")
	if err != nil {
		panic(err)
	}
	hash, err := b.sourceHash()
	if err != nil {
		panic(fmt.Errorf("hashing %s: %w", props.Package, err))
	}
	fp := props.FunctionProps
	if fp.Role == nil && fp.LogGroup != nil {
		// Not AWSLambdaBasicExecutionRole, which may create log groups and write to any of
		// the account's: this function writes to its own log group only.
		role := awsiam.NewRole(scope, jsii.String(id+"ServiceRole"), &awsiam.RoleProps{
			// Confused deputy: Lambda may assume it for this account's functions only.
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), &awsiam.ServicePrincipalOpts{
				Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(scope).Account()}},
			}),
			Description: jsii.String("Runs " + props.Package + " (writes only to its own log group)"),
		})
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("WriteOwnLogs"),
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(*fp.LogGroup.LogGroupRef().LogGroupArn), // arn:...:log-group:NAME:*, its streams
		}))
		fp.Role = role
	}
	// Every function of the construct is traced and logs JSON (the EMF metrics and the
	// per-push lines depend on it), unless the props say otherwise.
	if fp.Tracing == "" {
		fp.Tracing = awslambda.Tracing_ACTIVE
	}
	if fp.LoggingFormat == "" {
		fp.LoggingFormat = awslambda.LoggingFormat_JSON
	}
	fp.Runtime = awslambda.Runtime_PROVIDED_AL2023()
	fp.Architecture = awslambda.Architecture_ARM_64()
	fp.Handler = jsii.String("bootstrap")
	fp.Code = awslambda.Code_FromAsset(jsii.String(b.pkgDir), &awss3assets.AssetOptions{
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
	pkg       string // import path
	pkgDir    string // its directory (maybe in the module cache)
	modPath   string // the module that holds it
	mainGoMod string // go.mod of the app's module, whose go.sum pins every dependency
	goarch    string
}

func newGoBundler(pkg, goarch string) (*goBundler, error) {
	b := &goBundler{pkg: pkg, goarch: goarch}
	out, err := b.goCmd("list", "-f", "{{.Dir}}|{{with .Module}}{{.Path}}|{{.GoMod}}{{end}}", pkg)
	if err != nil {
		return nil, fmt.Errorf("finding %s from %s: %w", pkg, workingDir(), err)
	}
	parts := strings.Split(strings.TrimSpace(out), "|")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%s is not in a Go module", pkg)
	}
	b.pkgDir, b.modPath = parts[0], parts[1]
	gomod, err := b.goCmd("env", "GOMOD")
	if err != nil {
		return nil, err
	}
	b.mainGoMod = strings.TrimSpace(gomod)
	if b.mainGoMod == "" || b.mainGoMod == os.DevNull {
		return nil, fmt.Errorf("the app in %s is not in a Go module", workingDir())
	}
	return b, nil
}

func (b *goBundler) env() []string {
	return append(os.Environ(), "GOOS=linux", "GOARCH="+b.goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
}

// goCmd runs the go tool in the working directory, the app's module.
func (b *goBundler) goCmd(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = b.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// TryBundle is called by the CDK during synth with the asset's output directory.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc",
		"-ldflags", "-s -w -buildid=", "-o", filepath.Join(*outputDir, "bootstrap"), b.pkg)
	cmd.Env = b.env()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		// Returning false would make the CDK try Docker, whose error would hide this one.
		panic(fmt.Errorf("go build %s for linux/%s: %w", b.pkg, b.goarch, err))
	}
	return jsii.Bool(true)
}

// sourceHash is a sha256 of the build settings, the app module's go.mod and go.sum (they pin
// every dependency) and every Go and embedded file of the packages of the handler's own module
// that it imports, named relative to that module.
func (b *goBundler) sourceHash() (string, error) {
	out, err := b.goCmd("list", "-deps", "-f",
		`{{with .Module}}{{.Path}}|{{.Dir}}{{end}}|{{.Dir}}|{{join .GoFiles ","}}|{{join .EmbedFiles ","}}`, b.pkg)
	if err != nil {
		return "", err
	}
	type file struct{ name, path string }
	var files []file
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 || f[0] != b.modPath {
			continue // the standard library and other modules: pinned by go.sum
		}
		modDir, dir := f[1], f[2]
		for _, name := range append(strings.Split(f[3], ","), strings.Split(f[4], ",")...) {
			if name == "" {
				continue
			}
			rel, err := filepath.Rel(modDir, filepath.Join(dir, name))
			if err != nil {
				return "", err
			}
			files = append(files, file{filepath.ToSlash(rel), filepath.Join(dir, name)})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	sum := strings.TrimSuffix(b.mainGoMod, ".mod") + ".sum"
	files = append([]file{{"<app>/go.mod", b.mainGoMod}, {"<app>/go.sum", sum}}, files...)
	h := sha256.New()
	fmt.Fprintf(h, "linux/%s lambda.norpc -s -w %s\n", b.goarch, b.pkg)
	for _, f := range files {
		fmt.Fprintf(h, "%s\n", f.name)
		fh, err := os.Open(f.path)
		if os.IsNotExist(err) && strings.HasSuffix(f.name, "go.sum") {
			continue // a module without dependencies has no go.sum
		}
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

func workingDir() string {
	dir, _ := os.Getwd()
	return dir
}
