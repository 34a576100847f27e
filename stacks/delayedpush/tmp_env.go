package delayedpush

// TEMPORARY until internal/apiapp declares them (issue #21 contract names).
const (
	envScheduleGroupName  = "SCHEDULE_GROUP_NAME"
	envSchedulerRoleArn   = "SCHEDULER_ROLE_ARN"
	envSchedulerDLQArn    = "SCHEDULER_DLQ_ARN"
	envPushQueueArn       = "PUSH_QUEUE_ARN"
	envSchedulerKmsKeyArn = "SCHEDULER_KMS_KEY_ARN"
)
