// Package nag records why a resource is exempt from a finding of the security checks (package
// security: cdk-nag, and checkov), in the resource's own metadata, so that the construct
// carries its suppressions without depending on cdk-nag. Each sits on the narrowest resource
// and says why; an AwsSolutions-IAM5 rule names the wildcard it admits.
package nag

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Rule is a cdk-nag finding that does not apply, and why.
type Rule struct {
	ID     string
	Reason string
	// AppliesTo are regular expressions of the findings it covers (IAM5 "Resource::..."); none:
	// all of the rule's findings on the resource.
	AppliesTo []string
}

// Findings accepted by both the construct and this repository's stack.
var (
	Endpoints  = NewRule("AwsSolutions-IAM5", "SNS platform endpoints are created at run time, one per device: the wildcard is the platform application's own endpoints (endpoint/GCM/APP/*), nothing else.", `^Resource::.*:endpoint/GCM/.*/\*$`)
	Executions = NewRule("AwsSolutions-IAM5", "Executions are created at run time, one per scheduled push: the wildcard is this state machine's executions only.", `^Resource::.*:execution:.*:\*$`)
	Schedules  = NewRule("AwsSolutions-IAM5", "The economy engine creates one EventBridge Scheduler schedule per push at run time, named after it: the wildcard is the construct's schedule group's schedules only (schedule/GROUP/*), nothing wider.", `^Resource::arn:.*:scheduler:.*:schedule/[0-9A-Za-z_.-]+/\*$`)
	APIRoutes  = NewRule("AwsSolutions-IAM5", "execute-api:Invoke on the HTTP API's own routes: a path parameter ({key}, {deviceId}, {userId}) is a value per call, so the route's ARN ends in \"*\" there (METHOD/pushes/*), nothing wider.", `^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<.*Http.*>/\$default/(GET|PUT|DELETE|POST)/.*\*.*$`)
)

// cfnOf is c itself when it is a CloudFormation resource, else its default child (nil when
// it has none).
func cfnOf(c constructs.IConstruct) awscdk.CfnResource {
	if c == nil {
		return nil
	}
	if res, ok := c.(awscdk.CfnResource); ok {
		return res
	}
	res, _ := c.Node().DefaultChild().(awscdk.CfnResource)
	return res
}

// Suppress adds rules to the "cdk_nag" metadata of c (or of its CloudFormation resource).
func Suppress(c constructs.IConstruct, rules ...Rule) {
	res := cfnOf(c)
	if res == nil {
		return
	}
	var list []map[string]any
	if old, ok := res.GetMetadata(jsii.String("cdk_nag")).(map[string]any); ok {
		if l, ok := old["rules_to_suppress"].([]any); ok {
			for _, r := range l {
				if m, ok := r.(map[string]any); ok {
					list = append(list, m)
				}
			}
		}
	}
	for _, r := range rules {
		m := map[string]any{"id": r.ID, "reason": r.Reason}
		if len(r.AppliesTo) > 0 {
			var at []any
			for _, re := range r.AppliesTo {
				at = append(at, map[string]any{"regex": "/" + re + "/g"})
			}
			m["applies_to"] = at
		}
		list = append(list, m)
	}
	res.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": list})
}

// CheckovSkip records checkov checks that do not apply to a resource, each as {id, why}, in
// the resource's "checkov" metadata (checkov reads skips there).
func CheckovSkip(c constructs.IConstruct, skips ...[2]string) {
	res := cfnOf(c)
	if res == nil {
		return
	}
	var list []map[string]any
	for _, sk := range skips {
		list = append(list, map[string]any{"id": sk[0], "comment": sk[1]})
	}
	res.AddMetadata(jsii.String("checkov"), map[string]any{"skip": list})
}

// DefaultPolicy is the CloudFormation policy CDK grants write to for a role, or nil.
func DefaultPolicy(role awsiam.IRole) constructs.IConstruct {
	if r, ok := role.(awsiam.Role); ok {
		if p := r.Node().TryFindChild(jsii.String("DefaultPolicy")); p != nil {
			return p.Node().DefaultChild()
		}
	}
	return nil
}

// NewRule is a Rule.
func NewRule(id, reason string, appliesTo ...string) Rule {
	return Rule{ID: id, Reason: reason, AppliesTo: appliesTo}
}
