package localrun

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// SetUpPlatformApplication does locally what a team does by hand in AWS, because FCM
// credentials stay out of the template (README, "Deploy": the FCM platform application): it creates the platform
// application the stack's PlatformApplicationArn output names, with a placeholder credential,
// and points its event attributes at the stack's device events topic. The emulator keeps the
// attributes but never sends the events (local/RESEARCH.md).
func SetUpPlatformApplication(ctx context.Context, client *sns.Client, outputs map[string]string) (string, error) {
	arn, topic := outputs["PlatformApplicationArn"], outputs["DeviceEventsTopicArn"]
	name := arn[strings.LastIndex(arn, "/")+1:]
	if !strings.Contains(arn, ":app/GCM/") || name == "" {
		return "", fmt.Errorf("output PlatformApplicationArn %q is not an FCM platform application ARN", arn)
	}
	app, err := client.CreatePlatformApplication(ctx, &sns.CreatePlatformApplicationInput{
		Name:       aws.String(name),
		Platform:   aws.String("GCM"),
		Attributes: map[string]string{"PlatformCredential": "local-emulator-has-no-fcm-credential"},
	})
	if err != nil {
		return "", fmt.Errorf("creating the platform application: %w", err)
	}
	if got := aws.ToString(app.PlatformApplicationArn); got != arn {
		return "", fmt.Errorf("the emulator created platform application %s, the stack expects %s", got, arn)
	}
	if topic != "" {
		_, err = client.SetPlatformApplicationAttributes(ctx, &sns.SetPlatformApplicationAttributesInput{
			PlatformApplicationArn: aws.String(arn),
			Attributes: map[string]string{"EventEndpointUpdated": topic, "EventEndpointDeleted": topic,
				"EventDeliveryFailure": topic},
		})
		if err != nil {
			return "", fmt.Errorf("setting the platform application's event topics: %w", err)
		}
	}
	return arn, nil
}
