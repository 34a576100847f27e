package localdeploy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// createSecrets stands in for moto's CloudFormation, which does not know
// AWS::SecretsManager::Secret (local/RESEARCH.md, section 1): each such resource is created
// through the Secrets Manager API (named STACK-LOGICALID; a GenerateSecretString gives a random
// value as AWS does), every Ref to it in the template becomes the secret's ARN, and the
// resource leaves the template. It returns the template to deploy and the secrets' ARNs.
func createSecrets(ctx context.Context, c *secretsmanager.Client, stackName string, template map[string]any) (map[string]any, map[string]string, error) {
	resources, _ := template["Resources"].(map[string]any)
	arns := map[string]string{}
	for _, r := range TemplateResources(template) {
		if r.Type != "AWS::SecretsManager::Secret" {
			continue
		}
		name := stackName + "-" + r.LogicalID
		value, err := secretValue(r.Properties)
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", r.LogicalID, err)
		}
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		var exists *smtypes.ResourceExistsException
		switch {
		case errors.As(err, &exists): // a redeploy: keep the secret and its value
			d, derr := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
			if derr != nil {
				return nil, nil, fmt.Errorf("secret %s: %w", r.LogicalID, derr)
			}
			arns[r.LogicalID] = aws.ToString(d.ARN)
		case err != nil:
			return nil, nil, fmt.Errorf("secret %s: %w", r.LogicalID, err)
		default:
			arns[r.LogicalID] = aws.ToString(out.ARN)
		}
	}
	if len(arns) == 0 {
		return template, arns, nil
	}
	out := substituteRefs(template, arns).(map[string]any)
	kept := map[string]any{}
	for id, r := range resources {
		if _, gone := arns[id]; !gone {
			kept[id] = withoutDependsOn(substituteRefs(r, arns), arns)
		}
	}
	out["Resources"] = kept
	return out, arns, nil
}

func secretValue(props map[string]any) (string, error) {
	if s, ok := props["SecretString"].(string); ok {
		return s, nil
	}
	gen, _ := props["GenerateSecretString"].(map[string]any)
	length := 32
	if n, ok := gen["PasswordLength"].(float64); ok && n > 0 {
		length = int(n)
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	chars := alnum
	if ex, _ := gen["ExcludePunctuation"].(bool); !ex {
		chars += "!#$%&()*+,-./:;<=>?@[]^_{|}~"
	}
	b := make([]byte, length)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return "", err
		}
		b[i] = chars[k.Int64()]
	}
	return string(b), nil
}

// substituteRefs replaces {"Ref": ID} by values[ID] everywhere in v (a copy).
func substituteRefs(v any, values map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		if id, ok := RefTarget(x); ok {
			if val, ok := values[id]; ok {
				return val
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substituteRefs(e, values)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substituteRefs(e, values)
		}
		return out
	}
	return v
}

func withoutDependsOn(r any, gone map[string]string) any {
	m, ok := r.(map[string]any)
	if !ok {
		return r
	}
	switch d := m["DependsOn"].(type) {
	case string:
		if _, g := gone[d]; g {
			delete(m, "DependsOn")
		}
	case []any:
		var keep []any
		for _, e := range d {
			if s, _ := e.(string); gone[s] == "" {
				keep = append(keep, e)
			}
		}
		m["DependsOn"] = keep
	}
	return m
}
