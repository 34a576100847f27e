package localrun

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/delayed-push/delayed-push/local/schedulerrun"
)

// NewScheduleRunner runs the schedules of groups on the emulator that cfg reaches, as
// EventBridge Scheduler would: it calls the targets with a session of each schedule's role
// (sts:AssumeRole, kept until shortly before it expires), so that what it sends carries the
// role's SenderId (local/scripts/moto_server.py, patch 5), as on AWS.
func NewScheduleRunner(cfg aws.Config, groups []string) *schedulerrun.Runner {
	stsClient := sts.NewFromConfig(cfg)
	type session struct {
		client  *sqs.Client
		expires time.Time
	}
	var mu sync.Mutex
	sessions := map[string]session{}
	return &schedulerrun.Runner{
		Groups:    groups,
		Scheduler: scheduler.NewFromConfig(cfg),
		SQSAs: func(ctx context.Context, roleArn string) (schedulerrun.SQS, error) {
			mu.Lock()
			s, ok := sessions[roleArn]
			mu.Unlock()
			if ok && time.Until(s.expires) > 5*time.Minute {
				return s.client, nil
			}
			out, err := stsClient.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("local-scheduler")})
			if err != nil {
				return nil, fmt.Errorf("assuming %s: %w", roleArn, err)
			}
			c := out.Credentials
			roleCfg := cfg.Copy()
			roleCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
			s = session{client: sqs.NewFromConfig(roleCfg), expires: aws.ToTime(c.Expiration)}
			mu.Lock()
			sessions[roleArn] = s
			mu.Unlock()
			return s.client, nil
		},
	}
}
