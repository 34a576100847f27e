package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// schedulerService is EventBridge Scheduler's service principal.
const schedulerService = "scheduler.amazonaws.com"

// newEconomy creates what the economy engine's schedules need; the client creates the
// schedules themselves (one-time, deleted after they run) when a push is due further ahead than
// EconomyScheduleAfter. They exist whichever engine is the default, so that any push may name
// either:
//
//   - a schedule group to hold them (its name and ARN scope every permission below);
//   - the role they run as, which EventBridge Scheduler may assume only for schedules of this
//     account's group (confused-deputy conditions), and which may only put a push on the push
//     queue, or on its own dead-letter queue when the push queue refuses it;
//   - that dead-letter queue, with an alarm.
func newEconomy(scope constructs.Construct, id string, d *DelayedPush, s settings) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	d.EconomyScheduleGroup = awsscheduler.NewScheduleGroup(c, jsii.String("ScheduleGroup"), &awsscheduler.ScheduleGroupProps{RemovalPolicy: s.removal})

	qe, qk := s.queueEncryption()
	d.EconomyDeadLetterQueue = awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		// The maximum, so a push a schedule could not deliver can be inspected and sent again for
		// two weeks.
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   s.removal,
	})

	// AWS requires aws:SourceArn to be the schedule group's ARN (the EventBridge Scheduler User
	// Guide, "Cross-service confused deputy prevention",
	// https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html):
	// a schedule's own ARN or a name prefix there caps the group's invocations.
	d.EconomyRole = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String("Delayed Push economy engine: EventBridge Scheduler puts due pushes on the push queue"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String(schedulerService), &awsiam.ServicePrincipalOpts{Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			"ArnEquals":    map[string]any{"aws:SourceArn": d.scheduleGroupArn()},
		}}),
	})
	grantSend(d.EconomyRole, d.PushQueue, d.EconomyDeadLetterQueue)
	// Under a customer managed data key: the queues through SQS, and the schedules' payloads,
	// which EventBridge Scheduler decrypts as this role (the EventBridge Scheduler User Guide,
	// "Encryption at rest", https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html).
	d.useDataKey(d.EconomyRole, viaSQS)
	if d.DataKey != nil {
		keyUse{d.DataKey, []string{"kms:Decrypt"}, map[string]any{
			"ArnLike": map[string]any{"kms:EncryptionContext:aws:scheduler:schedule:arn": d.scheduleArns()},
		}}.grant(d.EconomyRole)
	}

	deadLetterAlarm(c, d.EconomyDeadLetterQueue, d.AlarmTopic,
		"Economy pushes a schedule could not put on the push queue after its retries wait in the economy dead-letter queue: fix the queue (its policy, its key), then send them to it (docs/operations.md, Alarms).")
}

// scheduleGroupArn is the economy schedule group's ARN, built from its name (known at synth).
func (d *DelayedPush) scheduleGroupArn() *string {
	return awscdk.Stack_Of(d.Construct).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("scheduler"), Resource: jsii.String("schedule-group"),
		ResourceName: d.EconomyScheduleGroup.ScheduleGroupName(), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// scheduleArns is the ARN pattern of the economy schedule group's schedules,
// arn:...:schedule/GROUP/*: one schedule per push, named at run time.
func (d *DelayedPush) scheduleArns() *string {
	return awscdk.Stack_Of(d.Construct).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("scheduler"), Resource: jsii.String("schedule"),
		ResourceName: jsii.String(*d.EconomyScheduleGroup.ScheduleGroupName() + "/*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// dataKeyForSchedules is the data key's use through EventBridge Scheduler for the economy
// group's schedules only (CreateSchedule, GetSchedule): it encrypts a schedule's payload as its
// caller, under the encryption context aws:scheduler:schedule:arn, after DescribeKey checks the
// key is symmetric (the EventBridge Scheduler User Guide, "Encryption at rest"). DescribeKey
// has no encryption context, hence a statement of its own. None without a data key.
func (d *DelayedPush) dataKeyForSchedules() []keyUse {
	if d.DataKey == nil {
		return nil
	}
	via := map[string]any{"kms:ViaService": viaService(d.Construct, "scheduler")}
	return []keyUse{
		{d.DataKey, []string{"kms:DescribeKey"}, map[string]any{"StringEquals": via}},
		{d.DataKey, dataKeyActions, map[string]any{"StringEquals": via,
			"ArnLike": map[string]any{"kms:EncryptionContext:aws:scheduler:schedule:arn": d.scheduleArns()}}},
	}
}

// grantEconomy lets grantee create, read and delete the economy group's schedules and hand
// them the economy role (iam:PassRole, to EventBridge Scheduler only); under a customer managed
// data key, use it through EventBridge Scheduler for those schedules.
func (d *DelayedPush) grantEconomy(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings(scheduleActions...), ResourceArns: &[]*string{d.scheduleArns()},
	}).Combine(awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings("iam:PassRole"), ResourceArns: &[]*string{d.EconomyRole.RoleArn()},
		Conditions: &map[string]*map[string]any{"StringEquals": {"iam:PassedToService": schedulerService}},
	})).Combine(grantKeyUses(grantee, d.dataKeyForSchedules()))
}

// scheduleActions are what the client calls on the economy group's schedules.
var scheduleActions = []string{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"}

// EconomyStatements are what GrantSchedule gives for the economy engine besides the push
// queue, as statements for a managed policy (for roles a grant cannot reach): the schedules,
// the role they run as, and the data key through EventBridge Scheduler (with CustomerManagedData).
func (d *DelayedPush) EconomyStatements() []awsiam.PolicyStatement {
	out := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ScheduleEconomyPushes"), Actions: jsii.Strings(scheduleActions...), Resources: &[]*string{d.scheduleArns()},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("PassTheEconomyRole"), Actions: jsii.Strings("iam:PassRole"), Resources: &[]*string{d.EconomyRole.RoleArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": schedulerService}},
		}),
	}
	for i, u := range d.dataKeyForSchedules() {
		out = append(out, u.statement([]string{"DescribeTheDataKeyForSchedules", "UseTheDataKeyForSchedules"}[i]))
	}
	return out
}

// SchedulerKmsKeyArn is the key the economy engine's schedules encrypt their payloads with:
// the data key's ARN with CustomerManagedData, else "" (EventBridge Scheduler's own key).
func (d *DelayedPush) SchedulerKmsKeyArn() *string {
	if d.DataKey == nil {
		return jsii.String("")
	}
	return d.DataKey.KeyArn()
}
