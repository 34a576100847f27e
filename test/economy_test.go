package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
)

// economy are the logical ids of the economy engine's resources and the group's name.
type economy struct {
	group, groupName, role, dlq string
}

func economyOf(t *testing.T, tpl assertions.Template) economy {
	t.Helper()
	e := economy{group: only(t, tpl, "AWS::Scheduler::ScheduleGroup", nil)}
	name := assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsiiStr("AWS::Scheduler::ScheduleGroup"), map[string]any{"Name": name})
	e.groupName = *name.AsString()
	e.role = only(t, tpl, "AWS::IAM::Role", withProperties(map[string]any{"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": []any{assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": "scheduler.amazonaws.com"}})}})}))
	e.dlq = idContaining(t, tpl, "AWS::SQS::Queue", "Economy")
	return e
}

// arnIn is arn:PARTITION:SERVICE:REGION:ACCOUNT:rest as this repository's stack writes it
// (region and account unknown at synth).
func arnIn(service, rest string) map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":" + service + ":", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":" + rest}}}
}

// EventBridge Scheduler may assume the economy role only for this account's schedule group
// (the group's ARN: AWS refuses a schedule's own ARN or a name prefix there), and the role may
// only put pushes on the push queue, or on its own dead-letter queue.
func TestEconomyRoleIsOnlyTheGroupsAndOnlySendsToThePushQueue(t *testing.T) {
	tpl := defaults(t)
	e := economyOf(t, tpl)
	hasProperties(t, tpl, "AWS::IAM::Role", e.role, map[string]any{"AssumeRolePolicyDocument": assertions.Match_Exact(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": map[string]any{"Service": "scheduler.amazonaws.com"},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
				"ArnEquals":    map[string]any{"aws:SourceArn": arnIn("scheduler", "schedule-group/"+e.groupName)},
			},
		}},
	}), "ManagedPolicyArns": assertions.Match_Absent()})
	queue, _ := pushQueue(t, tpl)
	policy := only(t, tpl, "AWS::IAM::Policy", attachedTo(e.role))
	hasProperties(t, tpl, "AWS::IAM::Policy", policy, map[string]any{"PolicyDocument": map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{assertions.Match_Exact(map[string]any{"Effect": "Allow", "Action": "sqs:SendMessage",
			"Resource": []any{getAtt(queue, "Arn"), getAtt(e.dlq, "Arn")}})},
	}})
}

// The group, the dead-letter queue and its alarm exist on the default engine too (a push may
// name either), the group follows removalPolicy, and the queue is kept as the push queue's
// dead-letter queue is: two weeks, encrypted, TLS only.
func TestEconomyResourcesExistOnEitherEngine(t *testing.T) {
	tpl := defaults(t)
	e := economyOf(t, tpl)
	assert.Regexp(t, `^[0-9A-Za-z_.-]{1,64}$`, e.groupName, "a valid schedule group name")
	tpl.HasResource(jsiiStr("AWS::Scheduler::ScheduleGroup"), map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
	hasProperties(t, tpl, "AWS::SQS::Queue", e.dlq, map[string]any{"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": true,
		"RedrivePolicy": assertions.Match_Absent()})
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::QueuePolicy"), map[string]any{"Queues": []any{ref(e.dlq)},
		"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}})})})})
	tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{
		"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum", "Period": 60,
		"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": getAtt(e.dlq, "QueueName")}},
		"Threshold":          1,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "EvaluationPeriods": 1, "TreatMissingData": "notBreaching",
		"AlarmActions":     []any{assertions.Match_ObjectLike(&map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsiiStr("AlarmsTopic"))})},
		"AlarmDescription": assertions.Match_StringLikeRegexp(jsiiStr("economy dead-letter queue")),
	})

	destroy := withConfig(t, func(c *stacks.Config) { c.RemovalPolicy = "destroy" })
	destroy.HasResource(jsiiStr("AWS::Scheduler::ScheduleGroup"), map[string]any{"DeletionPolicy": "Delete"})
}

// The API function learns the engine and what a schedule names, and may create, read and
// delete the group's schedules and hand them the economy role (to EventBridge Scheduler only).
func TestAPIFunctionSchedulesOnTheEconomyEngine(t *testing.T) {
	tpl := defaults(t)
	e := economyOf(t, tpl)
	queue, _ := pushQueue(t, tpl)
	apiFunctionHas(t, tpl, map[string]any{
		"ENGINE": "stepfunctions", "ECONOMY_SCHEDULE_AFTER_SECONDS": "900",
		"SCHEDULE_GROUP_NAME": e.groupName, "SCHEDULER_ROLE_ARN": getAtt(e.role, "Arn"), "SCHEDULER_DLQ_ARN": getAtt(e.dlq, "Arn"),
		"PUSH_QUEUE_ARN": getAtt(queue, "Arn"), "SCHEDULER_KMS_KEY_ARN": "",
	})
	api := roleOf(t, tpl, functionWith(t, tpl, "DEFAULT_DELAY_SECONDS"))
	tpl.HasResourceProperties(jsiiStr("AWS::IAM::Policy"), map[string]any{"Roles": []any{ref(api)}, "PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_Exact(map[string]any{"Effect": "Allow", "Action": []any{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"},
				"Resource": arnIn("scheduler", "schedule/"+e.groupName+"/*")}),
			assertions.Match_Exact(map[string]any{"Effect": "Allow", "Action": "iam:PassRole", "Resource": getAtt(e.role, "Arn"),
				"Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}}),
		})})})
	// Nothing else of EventBridge Scheduler, and no other role passed.
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", attachedTo(api)) {
		for _, a := range s.Action {
			if a == "iam:PassRole" {
				assert.Equal(t, []string{asResource(getAtt(e.role, "Arn"))}, s.Resource)
			}
		}
	}

	// The economy engine as the default, scheduling from 3 minutes ahead, under a customer
	// managed key: the schedules encrypt their pushes with the data key.
	eco := withConfig(t, func(c *stacks.Config) {
		c.Engine, c.EconomyScheduleAfterSeconds, c.CustomerManagedKey = "economy", 180, true
	})
	_, data := theKeys(t, eco)
	apiFunctionHas(t, eco, map[string]any{"ENGINE": "economy", "ECONOMY_SCHEDULE_AFTER_SECONDS": "180", "SCHEDULER_KMS_KEY_ARN": getAtt(data, "Arn")})
	ee := economyOf(t, eco)
	hasProperties(t, eco, "AWS::SQS::Queue", ee.dlq, map[string]any{"KmsMasterKeyId": getAtt(data, "Arn")}, "under the data key, as the push queue")
}

// The stack's outputs name what the client's economy engine reads (client.ResourcesFromStack);
// SchedulerKmsKeyArn only under a customer managed key.
func TestOutputsNameTheEconomyEngine(t *testing.T) {
	tpl := defaults(t)
	e := economyOf(t, tpl)
	queue, _ := pushQueue(t, tpl)
	for name, value := range map[string]any{
		"Engine": "stepfunctions", "EconomyScheduleAfterSeconds": "900", "ScheduleGroupName": e.groupName,
		"SchedulerRoleArn": getAtt(e.role, "Arn"), "SchedulerDeadLetterQueueArn": getAtt(e.dlq, "Arn"), "PushQueueArn": getAtt(queue, "Arn"),
		"SchedulerDeadLetterQueueUrl": ref(e.dlq),
	} {
		tpl.HasOutput(jsiiStr(name), map[string]any{"Value": value})
	}
	assert.Empty(t, *tpl.FindOutputs(jsiiStr("SchedulerKmsKeyArn"), nil))

	eco := withConfig(t, func(c *stacks.Config) {
		c.Engine, c.EconomyScheduleAfterSeconds, c.CustomerManagedKey = "economy", 180, true
	})
	_, data := theKeys(t, eco)
	eco.HasOutput(jsiiStr("Engine"), map[string]any{"Value": "economy"})
	eco.HasOutput(jsiiStr("EconomyScheduleAfterSeconds"), map[string]any{"Value": "180"})
	eco.HasOutput(jsiiStr("SchedulerKmsKeyArn"), map[string]any{"Value": getAtt(data, "Arn")})
}

// GrantSchedule covers both engines: a consumer's producer gets the group's schedules and the
// economy role (to EventBridge Scheduler only), as the API does; the producer policy too.
func TestGrantScheduleCoversTheEconomyEngine(t *testing.T) {
	tpl := inStack(t, nil, func(stack awscdk.Stack, push *delayedpush.DelayedPush) {
		producer := awsiam.NewRole(stack, jsii.String("OrdersApi"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
			RoleName: jsii.String("OrdersApi")})
		push.GrantSchedule(producer)
	})
	e := economyOf(t, tpl)
	role := only(t, tpl, "AWS::IAM::Role", withProperties(map[string]any{"RoleName": "OrdersApi"}))
	schedules := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":scheduler:eu-west-1:111122223333:schedule/" + e.groupName + "/*"}}}
	tpl.HasResourceProperties(jsiiStr("AWS::IAM::Policy"), map[string]any{"Roles": []any{ref(role)}, "PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_Exact(map[string]any{"Effect": "Allow", "Action": []any{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"},
				"Resource": schedules}),
			assertions.Match_Exact(map[string]any{"Effect": "Allow", "Action": "iam:PassRole", "Resource": getAtt(e.role, "Arn"),
				"Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}}),
		})})})
	// The consumer's trust condition names its own account and region.
	hasProperties(t, tpl, "AWS::IAM::Role", e.role, map[string]any{"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": []any{assertions.Match_ObjectLike(&map[string]any{"Condition": map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": "111122223333"},
			"ArnEquals": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"),
				":scheduler:eu-west-1:111122223333:schedule-group/" + e.groupName}}}},
		}})}})})

	// This repository's producer policy: the same two, named.
	stack := defaults(t)
	se := economyOf(t, stack)
	stack.HasResourceProperties(jsiiStr("AWS::IAM::ManagedPolicy"), map[string]any{"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Sid": "ScheduleEconomyPushes", "Effect": "Allow", "Action": []any{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"},
				"Resource": arnIn("scheduler", "schedule/"+se.groupName+"/*")},
			map[string]any{"Sid": "PassTheEconomyRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": getAtt(se.role, "Arn"),
				"Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}},
		})})})
}

func TestEconomySettingsAreChecked(t *testing.T) {
	for name, c := range map[string]struct{ raw, want string }{
		"unknown engine":       {`{"engine":"eventbridge"}`, `key "engine" must be "stepfunctions" or "economy", got "eventbridge"`},
		"schedule after < 180": {`{"economyScheduleAfterSeconds":179}`, `key "economyScheduleAfterSeconds" must be from 180 (the schedule's 2-minute lead and 1-minute precision) to 900 (SQS's longest ` + "`DelaySeconds`" + `), got 179`},
		"schedule after > 900": {`{"economyScheduleAfterSeconds":901}`, `key "economyScheduleAfterSeconds" must be from 180`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := stacks.ParseConfig(c.raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	for name, c := range map[string]struct {
		props *delayedpush.Props
		want  string
	}{
		"engine":         {&delayedpush.Props{Engine: jsii.String("sqs")}, `DelayedPush: Engine must be "stepfunctions" or "economy", got "sqs"`},
		"too soon":       {&delayedpush.Props{EconomyScheduleAfter: awscdk.Duration_Minutes(jsii.Number(2))}, "DelayedPush: EconomyScheduleAfter must be from 180 seconds (the schedule's 2-minute lead and 1-minute precision) to 900 seconds"},
		"too late":       {&delayedpush.Props{EconomyScheduleAfter: awscdk.Duration_Minutes(jsii.Number(16))}, "got 960"},
		"not whole":      {&delayedpush.Props{EconomyScheduleAfter: awscdk.Duration_Millis(jsii.Number(200500))}, "DelayedPush: EconomyScheduleAfter must be whole seconds"},
		"engine economy": {&delayedpush.Props{Engine: jsii.String("economy"), EconomyScheduleAfter: awscdk.Duration_Minutes(jsii.Number(5))}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), nil)
			defer func() {
				p := recover()
				if c.want == "" {
					assert.Nil(t, p)
					return
				}
				require.NotNil(t, p, "no error")
				err, ok := p.(error)
				require.True(t, ok, "panics with an error: %v", p)
				assert.Contains(t, err.Error(), c.want)
			}()
			delayedpush.New(stack, "Push", c.props)
		})
	}
}
