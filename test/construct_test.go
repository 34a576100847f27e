package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks/delayedpush"
)

// inStack adds the construct to a stack of its own, as a consumer's app does.
func inStack(t *testing.T, props *delayedpush.Props, more func(awscdk.Stack, *delayedpush.DelayedPush)) assertions.Template {
	t.Helper()
	stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111122223333"), Region: jsii.String("eu-west-1")},
	})
	d := delayedpush.New(stack, "Push", props)
	if more != nil {
		more(stack, d)
	}
	return assertions.Template_FromStack(stack, nil)
}

func TestConstructDefaults(t *testing.T) {
	tpl := inStack(t, nil, func(_ awscdk.Stack, d *delayedpush.DelayedPush) {
		for name, v := range map[string]any{"StateMachine": d.StateMachine, "PushQueue": d.PushQueue, "DeadLetterQueue": d.DeadLetterQueue,
			"SenderFunction": d.SenderFunction, "DevicesTable": d.DevicesTable, "DeliveriesTable": d.DeliveriesTable,
			"AlarmTopic": d.AlarmTopic, "EncryptionKey": d.EncryptionKey} {
			assert.NotNil(t, v, name)
		}
	})
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Timeout": 30, "MemorySize": 256})
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{"VisibilityTimeout": 180,
		"RedrivePolicy": assertions.Match_ObjectLike(&map[string]any{"maxReceiveCount": 5})})
	// The default application's endpoints.
	tpl.HasResourceProperties(jsiiStr("AWS::IAM::Policy"), map[string]any{"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Action": "sns:Publish", "Resource": assertions.Match_Exact(map[string]any{"Fn::Join": []any{"", []any{
				"arn:", ref("AWS::Partition"), ":sns:eu-west-1:111122223333:endpoint/GCM/delayed-push/*"}}})})}),
	})})
	tpl.AllResources(jsiiStr("AWS::DynamoDB::Table"), map[string]any{"DeletionPolicy": "Retain"})
	tpl.AllResourcesProperties(jsiiStr("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	tpl.ResourceCountIs(jsiiStr("AWS::CloudWatch::Alarm"), jsiiNum(10))
}

func TestConstructTakesCDKTypes(t *testing.T) {
	tpl := inStack(t, &delayedpush.Props{
		SenderTimeout:        awscdk.Duration_Seconds(jsii.Number(20)),
		VisibilityTimeout:    awscdk.Duration_Minutes(jsii.Number(1)),
		SenderMemorySize:     jsii.Number(512),
		SenderMaxConcurrency: jsii.Number(4),
		MaxReceiveCount:      jsii.Number(3),
		DeliveryGuarantee:    jsii.String("at-most-once"),
		DeliveryRetention:    awscdk.Duration_Days(jsii.Number(7)),
		RemovalPolicy:        awscdk.RemovalPolicy_DESTROY,
	}, nil)
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Timeout": 20, "MemorySize": 512,
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"DELIVERY_GUARANTEE": "at-most-once", "MAX_RECEIVE_COUNT": "3", "DELIVERY_RETENTION_DAYS": "7"})},
	})
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{"VisibilityTimeout": 60,
		"RedrivePolicy": assertions.Match_ObjectLike(&map[string]any{"maxReceiveCount": 3})})
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{"ScalingConfig": map[string]any{"MaximumConcurrency": 4}})
	tpl.AllResources(jsiiStr("AWS::DynamoDB::Table"), map[string]any{"DeletionPolicy": "Delete"})
}

func TestConstructRefusesWrongProps(t *testing.T) {
	topic := func(s awscdk.Stack) awssns.ITopic {
		return awssns.Topic_FromTopicArn(s, jsii.String("T"), jsii.String("arn:aws:sns:eu-west-1:111122223333:ops"))
	}
	key := func(s awscdk.Stack) awskms.IKey {
		return awskms.Key_FromKeyArn(s, jsii.String("K"), jsii.String("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
	}
	cases := map[string]struct {
		props func(awscdk.Stack) *delayedpush.Props
		want  string
	}{
		"visibility too short": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{SenderTimeout: awscdk.Duration_Seconds(jsii.Number(30)), VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(34))}
		}, "DelayedPush: VisibilityTimeout must be at least SenderTimeout + 5 s (35 s)"},
		"timeout too long": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{SenderTimeout: awscdk.Duration_Minutes(jsii.Number(16))}
		}, "DelayedPush: SenderTimeout must be from 1 to 900 seconds, got 960"},
		"fractional timeout": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{SenderTimeout: awscdk.Duration_Millis(jsii.Number(1500))}
		}, "DelayedPush: SenderTimeout must be whole seconds"},
		"lateness over a year": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{MaxLateness: awscdk.Duration_Days(jsii.Number(366))}
		}, "DelayedPush: MaxLateness must be from 0 (no limit) to 31532400 seconds (365 days less an hour), got 31622400"},
		"fractional lateness": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{MaxLateness: awscdk.Duration_Millis(jsii.Number(2500))}
		}, "DelayedPush: MaxLateness must be whole seconds"},
		"api jwt without audience": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{Api: &delayedpush.ApiProps{JwtIssuer: jsii.String("https://auth.example.com/")}}
		}, "DelayedPush: Api.JwtAudience is required with JwtIssuer"},
		"api body limit": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{Api: &delayedpush.ApiProps{MaxBodyBytes: jsii.Number(20 << 20)}}
		}, "DelayedPush: Api.MaxBodyBytes must be a whole number from 1024 to 10485760"},
		"concurrency": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{SenderMaxConcurrency: jsii.Number(1)}
		}, "DelayedPush: SenderMaxConcurrency must be a whole number from 2 to 1000"},
		"guarantee": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{DeliveryGuarantee: jsii.String("exactly-once")}
		}, `DelayedPush: DeliveryGuarantee must be "at-least-once" or "at-most-once", got "exactly-once"`},
		"platform application": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{PlatformApplicationArn: jsii.String("arn:aws:sns:eu-west-1:111122223333:app/APNS/x")}
		}, "DelayedPush: PlatformApplicationArn must be an SNS FCM platform application ARN"},
		"topic twice": {func(s awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{ExistingAlarmTopic: topic(s), AlarmTopicProps: &awssns.TopicProps{}}
		}, "DelayedPush: ExistingAlarmTopic and AlarmTopicProps are both given"},
		"key twice": {func(s awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{ExistingEncryptionKey: key(s), EncryptionKeyProps: &awskms.KeyProps{}}
		}, "DelayedPush: ExistingEncryptionKey and EncryptionKeyProps are both given"},
		"time zone": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{DefaultTimeZone: jsii.String("America/Gotham")}
		}, `DelayedPush: DefaultTimeZone must be an IANA time zone like "Europe/Berlin": unknown time zone "America/Gotham"`},
		"caps": {func(awscdk.Stack) *delayedpush.Props {
			return &delayedpush.Props{Caps: jsii.String("3/24h,1/0m")}
		}, `DelayedPush: Caps must be frequency caps like "3/24h,1/10m; promo=1/1h": stack: cap "1/0m"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), nil)
			defer func() {
				p := recover()
				require.NotNil(t, p, "no error")
				err, ok := p.(error)
				require.True(t, ok, "panics with an error: %v", p)
				assert.Contains(t, err.Error(), c.want)
			}()
			delayedpush.New(stack, "Push", c.props(stack))
		})
	}
}

func TestConstructUsesYourTopicOrKey(t *testing.T) {
	t.Run("topic", func(t *testing.T) {
		tpl := inStack(t, nil, nil)
		tpl.ResourceCountIs(jsiiStr("AWS::SNS::Topic"), jsiiNum(2)) // alarms, device events
		var got *delayedpush.DelayedPush
		tpl = inStack(t, &delayedpush.Props{
			ExistingAlarmTopic: awssns.Topic_FromTopicArn(awscdk.NewStack(newApp(""), jsii.String("Other"), nil), jsii.String("Ops"),
				jsii.String("arn:aws:sns:eu-west-1:111122223333:ops-alarms")),
			AlarmEmail: jsii.String("oncall@example.com"),
		}, func(_ awscdk.Stack, d *delayedpush.DelayedPush) { got = d })
		tpl.ResourceCountIs(jsiiStr("AWS::SNS::Topic"), jsiiNum(1)) // device events only
		tpl.ResourceCountIs(jsiiStr("AWS::KMS::Key"), jsiiNum(1))   // its key
		tpl.AllResourcesProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{"AlarmActions": []any{"arn:aws:sns:eu-west-1:111122223333:ops-alarms"}})
		tpl.HasResourceProperties(jsiiStr("AWS::SNS::Subscription"), map[string]any{"TopicArn": "arn:aws:sns:eu-west-1:111122223333:ops-alarms", "Endpoint": "oncall@example.com"})
		require.NotNil(t, got.EncryptionKey)
		for _, s := range keyPolicy(t, tpl, only(t, tpl, "AWS::KMS::Key", nil)) {
			assert.NotContains(t, s.Principals, "cloudwatch.amazonaws.com", "CloudWatch publishes to your topic, not under this key")
		}
		tpl.HasResourceProperties(jsiiStr("AWS::KMS::Key"), map[string]any{"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{
			"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": "sns.amazonaws.com"}})}),
		})})
	})
	t.Run("key", func(t *testing.T) {
		keyArn := "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		tpl := inStack(t, &delayedpush.Props{
			ExistingEncryptionKey: awskms.Key_FromKeyArn(awscdk.NewStack(newApp(""), jsii.String("Keys"), nil), jsii.String("K"), jsii.String(keyArn)),
		}, nil)
		tpl.ResourceCountIs(jsiiStr("AWS::KMS::Key"), jsiiNum(0))
		tpl.AllResourcesProperties(jsiiStr("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": keyArn})
	})
	t.Run("a platform application known only at deploy time", func(t *testing.T) {
		stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), nil)
		arn := awsssm.StringParameter_ValueForStringParameter(stack, jsii.String("/push/platform-app-arn"), nil)
		delayedpush.New(stack, "Push", &delayedpush.Props{PlatformApplicationArn: arn})
		assertions.Template_FromStack(stack, nil).HasResourceProperties(jsiiStr("AWS::IAM::Policy"), map[string]any{
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Action": "sns:Publish", "Resource": map[string]any{"Fn::Join": assertions.Match_AnyValue()}}),
			})}),
		})
	})
}

func TestGrantsGiveAProducerExactlyWhatItNeeds(t *testing.T) {
	tpl := inStack(t, nil, func(stack awscdk.Stack, push *delayedpush.DelayedPush) {
		producer := awsiam.NewRole(stack, jsii.String("OrdersApi"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
		push.GrantSchedule(producer)
		push.GrantManage(producer)
		push.GrantSendNow(producer)
	})
	role := only(t, tpl, "AWS::IAM::Role", withProperties(map[string]any{"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": []any{assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": "ecs-tasks.amazonaws.com"}})}})}))
	got := map[string][]string{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(role)}})) {
		for _, a := range s.Action {
			got[a] = append(got[a], s.Resource...)
		}
	}
	sm := only(t, tpl, "AWS::StepFunctions::StateMachine", nil)
	queueID, _ := pushQueue(t, tpl)
	// SendMessage only: the client has the queue's URL (no GetQueueUrl, no GetQueueAttributes).
	assert.ElementsMatch(t, []string{"states:StartExecution", "states:DescribeExecution", "states:StopExecution",
		"sqs:SendMessage", "scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule", "iam:PassRole",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"}, keys(got))
	assert.Equal(t, []string{`{"Ref":"` + sm + `"}`}, got["states:StartExecution"])
	schedules := only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{map[string]any{"AttributeName": "key", "KeyType": "HASH"}}}))
	table := asResource(getAtt(schedules, "Arn"))
	index := asResource(map[string]any{"Fn::Join": []any{"", []any{getAtt(schedules, "Arn"), "/index/*"}}})
	// GetItem also on the preferences: a push for a local time is resolved in the recipient's zone.
	preferences := asResource(getAtt(preferencesTable(t, tpl), "Arn"))
	assert.Contains(t, got["dynamodb:GetItem"], preferences)
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"} {
		assert.Contains(t, got[a], table, a)
		for _, r := range got[a] {
			if a == "dynamodb:GetItem" && r == preferences {
				continue
			}
			assert.Contains(t, []string{table, index}, r, "%s on the schedules table (and its index) only", a)
		}
	}
	executions := asResource(map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":states:eu-west-1:111122223333:execution:",
		map[string]any{"Fn::Select": []any{6, map[string]any{"Fn::Split": []any{":", ref(sm)}}}}, ":*"}}})
	for _, a := range []string{"states:DescribeExecution", "states:StopExecution"} {
		assert.Equal(t, []string{executions}, got[a], "%s on executions of this state machine only", a)
	}
	assert.Equal(t, []string{`{"Fn::GetAtt":["` + queueID + `","Arn"]}`}, got["sqs:SendMessage"], "the push queue only")
	// The economy engine (TestGrantScheduleCoversTheEconomyEngine has the statements): the
	// group's schedules, the economy role.
	e := economyOf(t, tpl)
	assert.Equal(t, []string{asResource(getAtt(e.role, "Arn"))}, got["iam:PassRole"], "the economy role only")
	for _, a := range []string{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"} {
		assert.Equal(t, []string{asResource(map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"),
			":scheduler:eu-west-1:111122223333:schedule/" + e.groupName + "/*"}}})}, got[a], "%s on the group's schedules only", a)
	}
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
