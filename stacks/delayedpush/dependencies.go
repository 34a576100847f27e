package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// dependOnDefaultPolicyOnly narrows a resource's DependsOn to its role's default policy. The CDK
// also lists the role itself, which the resource already references through Fn::GetAtt, and
// cfn-lint reports that redundant dependency (W3005). Call it after every grant is made.
func dependOnDefaultPolicyOnly(resource constructs.IConstruct, role awsiam.IRole) {
	cfn := resource.Node().DefaultChild().(awscdk.CfnResource)
	policy := role.Node().TryFindChild(jsii.String("DefaultPolicy"))
	if policy == nil {
		cfn.AddDeletionOverride(jsii.String("DependsOn"))
		return
	}
	policyCfn := policy.Node().DefaultChild().(awscdk.CfnResource)
	cfn.AddOverride(jsii.String("DependsOn"), &[]*string{awscdk.Stack_Of(resource).GetLogicalId(policyCfn)})
}
