package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// Stack output keys that name the Resources (stacks.NewDelayedPushStack writes them).
const (
	OutputStateMachineArn = "StateMachineArn"
	OutputPushQueueURL    = "PushQueueUrl"
	OutputSchedulesTable  = "SchedulesTableName"
	// The device calls' resources (older stacks lack them: those calls then say so).
	OutputPlatformApplicationArn = "PlatformApplicationArn"
	OutputDevicesTable           = "DevicesTableName"
	OutputDeviceOwnersTable      = "DeviceOwnersTableName"
	// The engine a push uses when it names none, and the economy engine's resources (older
	// stacks lack them: the economy engine then says so). SchedulerKmsKeyArn is written only
	// under a customer managed key.
	OutputEngine                      = "Engine"
	OutputScheduleGroupName           = "ScheduleGroupName"
	OutputSchedulerRoleArn            = "SchedulerRoleArn"
	OutputSchedulerDeadLetterQueueArn = "SchedulerDeadLetterQueueArn"
	OutputPushQueueArn                = "PushQueueArn"
	OutputEconomyScheduleAfterSeconds = "EconomyScheduleAfterSeconds"
	OutputSchedulerKmsKeyArn          = "SchedulerKmsKeyArn"
	// The scheduler's dead-letter queue's URL, where pushctl redrive --source economy moves
	// pushes from.
	OutputSchedulerDeadLetterQueueURL = "SchedulerDeadLetterQueueUrl"
	// The recipients' preferences and the zone of a user who has none (older stacks lack
	// them: preference calls then say so, and local times are read in UTC).
	OutputPreferencesTable = "PreferencesTableName"
	OutputDefaultTimeZone  = "DefaultTimeZone"
)

// StackDescriber is the part of the CloudFormation client ResourcesFromStack uses.
type StackDescriber interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// ResourcesFromStack reads the Resources from the outputs of the deployed stack, so that no
// ARN has to be copied into a backend's configuration. It also returns every output.
func ResourcesFromStack(ctx context.Context, cfn StackDescriber, stackName string) (Resources, map[string]string, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackName)})
	if err != nil {
		return Resources{}, nil, fmt.Errorf("stack %s: %w", stackName, err)
	}
	if len(out.Stacks) == 0 {
		return Resources{}, nil, fmt.Errorf("stack %s: not found", stackName)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	res := Resources{
		StateMachineArn: outputs[OutputStateMachineArn],
		PushQueueURL:    outputs[OutputPushQueueURL],
		SchedulesTable:  outputs[OutputSchedulesTable],

		PlatformApplicationArn: outputs[OutputPlatformApplicationArn],
		DevicesTable:           outputs[OutputDevicesTable],
		DeviceOwnersTable:      outputs[OutputDeviceOwnersTable],

		Engine:                      outputs[OutputEngine],
		ScheduleGroupName:           outputs[OutputScheduleGroupName],
		SchedulerRoleArn:            outputs[OutputSchedulerRoleArn],
		SchedulerDeadLetterQueueArn: outputs[OutputSchedulerDeadLetterQueueArn],
		PushQueueArn:                outputs[OutputPushQueueArn],
		SchedulerKmsKeyArn:          outputs[OutputSchedulerKmsKeyArn],

		PreferencesTable: outputs[OutputPreferencesTable],
		DefaultTimeZone:  outputs[OutputDefaultTimeZone],
	}
	if v := outputs[OutputEconomyScheduleAfterSeconds]; v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil {
			return Resources{}, nil, fmt.Errorf("stack %s: output %s is not a whole number of seconds: %q", stackName, OutputEconomyScheduleAfterSeconds, v)
		}
		res.EconomyScheduleAfter = time.Duration(secs) * time.Second
	}
	var missing []string
	for _, k := range []string{OutputStateMachineArn, OutputPushQueueURL, OutputSchedulesTable} {
		if outputs[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Resources{}, nil, fmt.Errorf("stack %s: no output %s: is it a Delayed Push stack, deployed from this version?", stackName, strings.Join(missing, ", "))
	}
	return res, outputs, nil
}
