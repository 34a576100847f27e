package localdeploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/delayed-push/delayed-push/local/motoapi"
)

// FixMoto makes a stack that moto 5.2.5 created behave like the one AWS would create:
//
//   - Step Functions: moto's CloudFormation puts state machines into its plain Step Functions
//     backend, ignores DefinitionSubstitutions, and with execute_state_machine on, the API
//     serves a different backend that does not see them. FixMoto turns execute_state_machine
//     on and creates (or updates) each of the template's state machines there, under the same
//     name and so the same ARN, with DefinitionSubstitutions applied.
//   - Lambda event source mappings: with a mapping enabled, every SendMessage to its queue
//     makes moto receive the queue's messages and try to run the function in Docker, putting
//     the messages back with their receive count raised (so redrive to the DLQ comes early).
//     With disableMappings, FixMoto disables the stack's mappings so that a local poller gets
//     the messages as the Lambda would.
//   - SNS subscriptions: moto's CloudFormation does not create AWS::SNS::Subscription.
//     FixMoto subscribes each one through the SNS API, with its RawMessageDelivery.
func FixMoto(ctx context.Context, cfg aws.Config, endpoint string, res *Result, disableMappings bool, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := motoapi.EnableStateMachineExecution(ctx, endpoint); err != nil {
		return err
	}
	sfc := sfn.NewFromConfig(cfg)
	lc := lambda.NewFromConfig(cfg)
	if err := subscribe(ctx, sns.NewFromConfig(cfg), res, logf); err != nil {
		return err
	}
	for _, r := range TemplateResources(res.Template) {
		id, props := r.LogicalID, r.Properties
		created, ok := res.Resources[id]
		if !ok || created.PhysicalID == "" {
			continue
		}
		switch r.Type {
		case "AWS::StepFunctions::StateMachine":
			if err := recreateStateMachine(ctx, sfc, res, created.PhysicalID, props); err != nil {
				return fmt.Errorf("state machine %s: %w", id, err)
			}
			logf("state machine %s: definition loaded into moto's executing backend", id)
		case "AWS::Lambda::EventSourceMapping":
			if !disableMappings {
				continue
			}
			if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{
				UUID: aws.String(created.PhysicalID), Enabled: aws.Bool(false),
			}); err != nil {
				return fmt.Errorf("disable event source mapping %s: %w", id, err)
			}
			logf("event source mapping %s disabled (poll the queue yourself)", id)
		}
	}
	return nil
}

// subscribe creates the template's SNS subscriptions the emulator left out.
func subscribe(ctx context.Context, c *sns.Client, res *Result, logf func(string, ...any)) error {
	missing := map[string]bool{}
	for _, r := range res.NotCreated {
		missing[r.LogicalID] = true
	}
	for _, r := range TemplateResources(res.Template) {
		if r.Type != "AWS::SNS::Subscription" || !missing[r.LogicalID] {
			continue
		}
		topic, err := resolve(res, r.Properties["TopicArn"])
		if err != nil {
			return fmt.Errorf("subscription %s: %w", r.LogicalID, err)
		}
		endpoint, err := resolve(res, r.Properties["Endpoint"])
		if err != nil {
			return fmt.Errorf("subscription %s: %w", r.LogicalID, err)
		}
		protocol, _ := r.Properties["Protocol"].(string)
		attrs := map[string]string{}
		if raw, ok := r.Properties["RawMessageDelivery"].(bool); ok {
			attrs["RawMessageDelivery"] = fmt.Sprint(raw)
		}
		if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String(protocol),
			Endpoint: aws.String(endpoint), Attributes: attrs}); err != nil {
			return fmt.Errorf("subscription %s: %w", r.LogicalID, err)
		}
		logf("subscription %s: %s -> %s (%s) created through the SNS API", r.LogicalID, topic, endpoint, protocol)
	}
	return nil
}

func recreateStateMachine(ctx context.Context, c *sfn.Client, res *Result, arn string, props map[string]any) error {
	definition, err := stateMachineDefinition(res, props)
	if err != nil {
		return err
	}
	role, err := resolve(res, props["RoleArn"])
	if err != nil {
		return fmt.Errorf("RoleArn: %w", err)
	}
	smType := sfntypes.StateMachineTypeStandard
	if t, _ := props["StateMachineType"].(string); t != "" {
		smType = sfntypes.StateMachineType(t)
	}
	_, err = c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	var missing *sfntypes.StateMachineDoesNotExist
	switch {
	case err == nil:
		_, err = c.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{
			StateMachineArn: aws.String(arn), Definition: aws.String(definition), RoleArn: aws.String(role),
		})
		return err
	case errors.As(err, &missing):
		name := arn[strings.LastIndex(arn, ":")+1:]
		out, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String(role), Type: smType,
		})
		if err != nil {
			return err
		}
		if got := aws.ToString(out.StateMachineArn); got != arn {
			return fmt.Errorf("moto made %s, not the stack's %s", got, arn)
		}
		return nil
	default:
		return err
	}
}

// stateMachineDefinition resolves DefinitionString (or Definition) and applies
// DefinitionSubstitutions, as CloudFormation does.
func stateMachineDefinition(res *Result, props map[string]any) (string, error) {
	var definition string
	if d, ok := props["DefinitionString"]; ok {
		s, err := resolve(res, d)
		if err != nil {
			return "", fmt.Errorf("DefinitionString: %w", err)
		}
		definition = s
	} else if d, ok := props["Definition"]; ok {
		b, err := json.Marshal(d)
		if err != nil {
			return "", err
		}
		definition = string(b)
	} else {
		return "", errors.New("no DefinitionString or Definition (DefinitionS3Location is not supported)")
	}
	subs, _ := props["DefinitionSubstitutions"].(map[string]any)
	keys := slices.Sorted(maps.Keys(subs))
	for _, k := range keys {
		v, err := resolve(res, subs[k])
		if err != nil {
			return "", fmt.Errorf("DefinitionSubstitutions.%s: %w", k, err)
		}
		definition = strings.ReplaceAll(definition, "${"+k+"}", v)
	}
	return definition, nil
}

// resolve evaluates the intrinsic functions a CDK template uses in the properties FixMoto
// needs: literals, Ref (resources and pseudo parameters), Fn::GetAtt Arn and Fn::Join.
func resolve(res *Result, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if ref, ok := RefTarget(x); ok {
			switch ref {
			case "AWS::AccountId":
				return res.Account, nil
			case "AWS::Region":
				return res.Region, nil
			case "AWS::Partition":
				return "aws", nil
			case "AWS::URLSuffix":
				return "amazonaws.com", nil
			case "AWS::StackName":
				return res.StackName, nil
			case "AWS::StackId":
				return res.StackID, nil
			}
			r, ok := res.Resources[ref]
			if !ok || r.PhysicalID == "" {
				return "", fmt.Errorf("resolving Ref %s: not created", ref)
			}
			return r.PhysicalID, nil
		}
		if id, attr, ok := GetAttTarget(x); ok {
			r, ok := res.Resources[id]
			if !ok || r.PhysicalID == "" {
				return "", fmt.Errorf("Fn::GetAtt %s: not created", id)
			}
			if attr != "Arn" {
				return "", fmt.Errorf("Fn::GetAtt %s.%s: only Arn is supported", id, attr)
			}
			return arnOf(res, r)
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			parts, _ := j[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				s, err := resolve(res, p)
				if err != nil {
					return "", err
				}
				out[i] = s
			}
			return strings.Join(out, sep), nil
		}
	}
	b, _ := json.Marshal(v)
	return "", fmt.Errorf("cannot resolve %s", b)
}

// arnOf returns the ARN of a resource moto created, from its physical id.
func arnOf(res *Result, r Resource) (string, error) {
	p := r.PhysicalID
	if strings.HasPrefix(p, "arn:") {
		return p, nil
	}
	a, reg := res.Account, res.Region
	switch r.Type {
	case "AWS::IAM::Role":
		return "arn:aws:iam::" + a + ":role/" + p, nil
	case "AWS::SQS::Queue":
		return "arn:aws:sqs:" + reg + ":" + a + ":" + p[strings.LastIndex(p, "/")+1:], nil
	case "AWS::Lambda::Function":
		return "arn:aws:lambda:" + reg + ":" + a + ":function:" + p, nil
	case "AWS::DynamoDB::Table":
		return "arn:aws:dynamodb:" + reg + ":" + a + ":table/" + p, nil
	case "AWS::Logs::LogGroup":
		return "arn:aws:logs:" + reg + ":" + a + ":log-group:" + p + ":*", nil
	}
	return "", fmt.Errorf("resolving the Arn of %s (%s): not supported", r.LogicalID, r.Type)
}
