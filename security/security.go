// Package security applies the security checks every synth of a Delayed Push app runs:
// cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs as Aspects. Errors fail the synth;
// the stack's suppressions (each on the narrowest resource, with its reason) are in
// stacks/nag.go. It is a package of its own so that apps using only the construct do not
// depend on cdk-nag.
package security

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddChecks adds the packs to app.
func AddChecks(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewNIST80053R5Checks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}
