//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/local/localrun"
)

// Devices on the local stack: registration through the client, the HTTP API and pushctl, a
// token moving between users, and a dead token skipped until it registers again.

func deviceClient(t *testing.T) *client.Client {
	t.Helper()
	return newClient(t).WithDevices(stack.SNS, stack.DynamoDB)
}

func register(t *testing.T, c *client.Client, user, token, deviceID string) devices.Result {
	t.Helper()
	res, err := c.RegisterDevice(context.Background(), devices.Registration{UserID: user, Token: token, DeviceID: deviceID})
	require.NoError(t, err)
	return res
}

// pushTo sends a push to a user now and waits for the sender's report on it.
func pushTo(t *testing.T, c *client.Client, user, key string) localrun.SenderReport {
	t.Helper()
	_, err := c.SendNow(context.Background(), key, shipped(user))
	require.NoError(t, err)
	report, err := localrun.WaitForReport(context.Background(), logPath, key, 60*time.Second)
	require.NoError(t, err)
	return report
}

func received(t *testing.T, endpoint string) int {
	t.Helper()
	got, err := stack.Deliveries(context.Background(), endpoint)
	require.NoError(t, err)
	return len(got)
}

func endpointGone(t *testing.T, arn string) bool {
	t.Helper()
	_, err := stack.SNS.GetEndpointAttributes(context.Background(), &sns.GetEndpointAttributesInput{EndpointArn: aws.String(arn)})
	var nf *snstypes.NotFoundException
	if errors.As(err, &nf) {
		return true
	}
	require.NoError(t, err)
	return false
}

func TestDeviceRegisteredTwiceThenRefreshedReceivesTheUsersPushes(t *testing.T) {
	c := deviceClient(t)
	ctx := context.Background()
	user, token := name("dev-user"), name("dev-token")
	first := register(t, c, user, token, "")
	assert.Equal(t, devices.Registered, first.Outcome)
	again := register(t, c, user, token, "")
	assert.Equal(t, devices.Unchanged, again.Outcome, "the same token twice is a no-op")
	assert.Equal(t, first.ID, again.ID)
	list, err := c.Devices(ctx, user)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.True(t, list[0].Enabled)
	assert.Equal(t, "FCM", list[0].Platform)

	report := pushTo(t, c, user, name("dev-push-1"))
	assert.Equal(t, "sent", report.Outcome)
	_, _, err = stack.WaitForDeliveries(ctx, first.EndpointARN, 1, 30*time.Second)
	require.NoError(t, err)

	// The app's token rotates: registered with the device id it kept, the same device follows.
	refreshed := register(t, c, user, name("dev-token-new"), first.ID)
	assert.Equal(t, devices.Refreshed, refreshed.Outcome)
	assert.Equal(t, first.ID, refreshed.ID)
	attrs, err := stack.SNS.GetEndpointAttributes(ctx, &sns.GetEndpointAttributesInput{EndpointArn: aws.String(first.EndpointARN)})
	require.NoError(t, err)
	assert.Equal(t, name("dev-token-new"), attrs.Attributes["Token"])
	again = register(t, c, user, name("dev-token-new"), "")
	assert.Equal(t, devices.Unchanged, again.Outcome, "the new token finds the same device")
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, "sent", pushTo(t, c, user, name("dev-push-2")).Outcome)
	_, _, err = stack.WaitForDeliveries(ctx, first.EndpointARN, 2, 30*time.Second)
	require.NoError(t, err)
}

func TestATokenMovedToAnotherUserNeverGetsItsOldUsersPushes(t *testing.T) {
	c := deviceClient(t)
	alice, bob, phone := name("alice"), name("bob"), name("shared-phone")
	a := register(t, c, alice, phone, "")
	b := register(t, c, bob, phone, a.ID) // the app kept alice's device id across the logout
	assert.Equal(t, devices.Moved, b.Outcome)
	assert.Equal(t, a.ID, b.PreviousDeviceID)
	assert.NotEqual(t, a.EndpointARN, b.EndpointARN)
	assert.True(t, endpointGone(t, a.EndpointARN), "alice's endpoint is deleted: nothing published to it reaches the phone")

	aliceDevices, err := c.Devices(context.Background(), alice)
	require.NoError(t, err)
	assert.Empty(t, aliceDevices)
	report := pushTo(t, c, alice, name("for-alice"))
	assert.Equal(t, "no_devices", report.Outcome, "alice's push finds no device")

	assert.Equal(t, "sent", pushTo(t, c, bob, name("for-bob")).Outcome)
	got, _, err := stack.WaitForDeliveries(context.Background(), b.EndpointARN, 1, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, name("for-bob"), fcmMessage(t, got[0])["data"].(map[string]any)["pushId"])
	// The sender reported on both pushes (pushTo waits for it): nothing more is coming.
	assert.Equal(t, 1, received(t, b.EndpointARN), "the phone got bob's push only")
}

func TestADeadTokenIsSkippedAfterItsFirstFailureAndComesBackWhenRegisteredAgain(t *testing.T) {
	c := deviceClient(t)
	ctx := context.Background()
	user, token := name("dead-user"), name("dead-token")
	d := register(t, c, user, token, "")
	// FCM reports the token invalid; SNS disables the endpoint.
	_, err := stack.SNS.SetEndpointAttributes(ctx, &sns.SetEndpointAttributesInput{
		EndpointArn: aws.String(d.EndpointARN), Attributes: map[string]string{"Enabled": "false"}})
	require.NoError(t, err)

	first := name("dead-push-1")
	assert.Equal(t, "failed", pushTo(t, c, user, first).Outcome)
	rec, err := stack.DeliveryRecord(ctx, first, d.EndpointARN)
	require.NoError(t, err)
	assert.Equal(t, "failed", rec["status"])
	list, err := c.Devices(ctx, user)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.False(t, list[0].Enabled, "the registry marked the device disabled")
	assert.Contains(t, list[0].DisabledReason, "EndpointDisabled")

	second := name("dead-push-2")
	assert.Equal(t, "failed", pushTo(t, c, user, second).Outcome)
	rec, err = stack.DeliveryRecord(ctx, second, d.EndpointARN)
	require.NoError(t, err)
	assert.Equal(t, "skipped", rec["status"], "skipped without a publish")
	assert.Contains(t, rec["error"], "device disabled: EndpointDisabled")
	assert.NotContains(t, rec, "publishes", "no publish call was made")

	back := register(t, c, user, token, "")
	assert.Equal(t, devices.Refreshed, back.Outcome)
	assert.Equal(t, d.ID, back.ID)
	assert.True(t, back.Enabled)
	assert.Equal(t, "sent", pushTo(t, c, user, name("dead-push-3")).Outcome)
	_, _, err = stack.WaitForDeliveries(ctx, d.EndpointARN, 1, 30*time.Second)
	require.NoError(t, err)
}

// SNS's own events (here published by the test as SNS would: the emulator sends none) reach
// the device events function through the stack's topic and queue.
func TestAnSNSDeliveryFailureEventDisablesTheDevice(t *testing.T) {
	c := deviceClient(t)
	ctx := context.Background()
	user := name("event-user")
	d := register(t, c, user, name("event-token"), "")
	event := fmt.Sprintf(`{"DeliveryAttempts":1,"EndpointArn":%q,"EventType":"DeliveryFailure","FailureMessage":"Endpoint is disabled",`+
		`"FailureType":"EndpointDisabled","MessageId":"m-1","Resource":%q,"Service":"SNS","Time":%q}`,
		d.EndpointARN, output(t, "PlatformApplicationArn"), time.Now().UTC().Format(time.RFC3339))
	_, err := stack.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(output(t, "DeviceEventsTopicArn")), Message: aws.String(event),
		Subject: aws.String("DeliveryFailure event for app delayed-push (GCM)")})
	require.NoError(t, err)
	var list []devices.Device
	err = localrun.Poll(ctx, 60*time.Second, 200*time.Millisecond, func() (bool, error) {
		var err error
		list, err = c.Devices(ctx, user)
		return err == nil && len(list) == 1 && !list[0].Enabled, err
	})
	require.NoError(t, err, "devices: %+v", list)
	assert.Equal(t, "SNS reported a permanent delivery failure: EndpointDisabled: Endpoint is disabled", list[0].DisabledReason)
}

func TestDevicesThroughTheHTTPAPI(t *testing.T) {
	user := name("api-dev-user")
	status, out := call(t, http.MethodPost, "/devices", fmt.Sprintf(`{"userId":%q,"token":%q}`, user, name("api-tok-1")))
	require.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, "registered", out["outcome"])
	first := out["deviceId"].(string)
	status, out = call(t, http.MethodPost, "/devices", fmt.Sprintf(`{"userId":%q,"token":%q}`, user, name("api-tok-1")))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "unchanged", out["outcome"])
	status, _ = call(t, http.MethodPost, "/devices", fmt.Sprintf(`{"userId":%q,"token":%q,"platform":"FCM"}`, user, name("api-tok-2")))
	require.Equal(t, http.StatusCreated, status)

	status, out = call(t, http.MethodGet, "/users/"+user+"/devices", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, out["devices"], 2)
	endpoint := ""
	for _, d := range out["devices"].([]any) {
		if d.(map[string]any)["deviceId"] == first {
			endpoint = d.(map[string]any)["endpointArn"].(string)
		}
	}
	require.NotEmpty(t, endpoint)
	assert.Equal(t, "sent", pushTo(t, deviceClient(t), user, name("api-dev-push")).Outcome)
	_, _, err := stack.WaitForDeliveries(context.Background(), endpoint, 1, 30*time.Second)
	require.NoError(t, err, "a device registered through the API receives the user's pushes")

	status, out = call(t, http.MethodPost, "/devices", fmt.Sprintf(`{"userId":%q,"token":"bad token","platform":"apns"}`, user))
	assert.Equal(t, http.StatusBadRequest, status)
	code, field, msg := apiError(t, out)
	assert.Equal(t, "invalid_device", code)
	assert.Equal(t, "token", field)
	assert.Equal(t, "invalid token: not an FCM registration token: only letters, digits and : _ . - are allowed", msg)

	status, out = call(t, http.MethodDelete, "/devices/"+first, "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, first, out["deviceId"])
	assert.True(t, endpointGone(t, endpoint))
	status, out = call(t, http.MethodDelete, "/devices/"+first, "")
	assert.Equal(t, http.StatusNotFound, status)
	code, _, _ = apiError(t, out)
	assert.Equal(t, "not_found", code)

	// Account deletion: every device goes.
	status, out = call(t, http.MethodDelete, "/users/"+user+"/devices", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, out["devices"], 1)
	_, out = call(t, http.MethodGet, "/users/"+user+"/devices", "")
	assert.Empty(t, out["devices"])
	assert.Equal(t, "no_devices", pushTo(t, deviceClient(t), user, name("api-dev-after")).Outcome)
}

func TestDevicesThroughPushctl(t *testing.T) {
	user := name("cli-dev-user")
	reg := pushctlJSON(t, "devices", "register", "--user", user, "--token", name("cli-tok"))
	assert.Equal(t, "registered", reg["outcome"])
	id := reg["deviceId"].(string)
	out, errOut, code := pushctl(t, "devices", "list", "--user", user)
	require.Equal(t, 0, code, errOut)
	assert.True(t, strings.HasPrefix(out, id+"  FCM  created "), out)
	assert.Contains(t, out, "enabled")

	assert.Equal(t, "sent", pushTo(t, deviceClient(t), user, name("cli-dev-push")).Outcome)
	_, _, err := stack.WaitForDeliveries(context.Background(), reg["endpointArn"].(string), 1, 30*time.Second)
	require.NoError(t, err, "a device registered through pushctl receives the user's pushes")

	_, errOut, code = pushctl(t, "devices", "register", "--user", user, "--token", "x", "--platform", "apns")
	assert.Equal(t, 1, code)
	assert.Equal(t, "pushctl devices: invalid platform: unknown platform \"apns\": supported: FCM\n", errOut)

	out, errOut, code = pushctl(t, "devices", "remove", "--user", user)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "removed 1 device(s) of user "+user)
	out, _, _ = pushctl(t, "devices", "list", "--user", user)
	assert.Equal(t, "user "+user+" has no device\n", out)
}
