//lint:file-ignore SA1019 assertions.Annotations returns cxapi.SynthesisMessage, the only way to read cdk-nag findings in CDK v2.270
package test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/security"
	"github.com/delayed-push/delayed-push/stacks"
)

// nagFindings synthesizes the stack (Shopify on, so every resource is there) with the
// AwsSolutions and NIST 800-53 rev 5 packs, as app.go applies them, and returns every
// unsuppressed error and warning, "RULE on PATH: message".
func nagFindings(t *testing.T, cfg stacks.Config) ([]string, assertions.Template) {
	t.Helper()
	app := newApp("")
	security.AddChecks(app)
	stack := stacks.NewDelayedPushStack(app, "DelayedPush", &stacks.DelayedPushStackProps{Config: cfg})
	ann := assertions.Annotations_FromStack(stack.Stack)
	var out []string
	for _, find := range []func(*string, any) *[]*cxapi.SynthesisMessage{ann.FindError, ann.FindWarning} {
		for _, m := range *find(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("(AwsSolutions|NIST).*"))) {
			rule, _, _ := strings.Cut(fmt.Sprint(m.Entry.Data), ": ")
			out = append(out, fmt.Sprintf("%s on %s", rule, *m.Id))
		}
	}
	sort.Strings(out)
	return out, assertions.Template_FromStack(stack.Stack, nil)
}

// nagSuppression is a rule a resource tells cdk-nag not to report, and why.
type nagSuppression struct {
	ID        string `json:"id"`
	Reason    string `json:"reason"`
	AppliesTo []any  `json:"applies_to"`
}

// suppressions are the cdk-nag suppressions of the template's resources, by logical id: of
// every type, so the template is read whole (FindResources takes one type).
func suppressions(t *testing.T, tpl assertions.Template) map[string][]nagSuppression {
	t.Helper()
	raw, err := json.Marshal(tpl.ToJSON())
	require.NoError(t, err)
	var doc struct {
		Resources map[string]struct {
			Metadata struct {
				CdkNag struct {
					RulesToSuppress []nagSuppression `json:"rules_to_suppress"`
				} `json:"cdk_nag"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	out := map[string][]nagSuppression{}
	for id, r := range doc.Resources {
		out[id] = r.Metadata.CdkNag.RulesToSuppress
	}
	return out
}

func TestNoUnsuppressedSecurityFindings(t *testing.T) {
	full := stacks.DefaultConfig()
	full.Shopify, full.ShopifyShopOwners = true, map[string]string{"a.myshopify.com": "u"}
	full.AlarmEmail = "oncall@example.com"
	cmk := full
	cmk.CustomerManagedKey = true
	for name, cfg := range map[string]stacks.Config{"defaults": stacks.DefaultConfig(), "everything on": full, "customer managed key": cmk} {
		got, tpl := nagFindings(t, cfg)
		assert.Empty(t, got, "%s: %d findings:\n%s", name, len(got), strings.Join(got, "\n"))

		// Every suppression gives a reason; a wildcard (IAM5) is admitted by name only.
		suppressed := 0
		for id, rules := range suppressions(t, tpl) {
			for _, rule := range rules {
				suppressed++
				assert.Greater(t, len(rule.Reason), 40, "%s %s: a reason a reviewer would accept", id, rule.ID)
				if rule.ID == "AwsSolutions-IAM5" {
					assert.NotEmpty(t, rule.AppliesTo, "%s: IAM5 only for the named wildcards", id)
				}
			}
		}
		assert.NotZero(t, suppressed, "%s: the suppressions are read", name)
	}
}
