package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
)

// fakeDevices validates as the registry does and remembers devices by id.
type fakeDevices struct {
	byID map[string]devices.Device
	next int
}

func (f *fakeDevices) RegisterDevice(_ context.Context, r devices.Registration) (devices.Result, error) {
	r, err := devices.Validate(r)
	if err != nil {
		return devices.Result{}, err
	}
	for _, d := range f.byID {
		if d.UserID == r.UserID && strings.HasSuffix(d.EndpointARN, "/"+r.Token) {
			return devices.Result{Device: d, Outcome: devices.Unchanged}, nil
		}
	}
	f.next++
	id := fmt.Sprintf("dev-%d", f.next)
	d := devices.Device{ID: id, UserID: r.UserID, Platform: r.Platform, EndpointARN: "arn:aws:sns:eu-west-1:1:endpoint/GCM/app/" + id + "/" + r.Token, Enabled: true}
	f.byID[id] = d
	return devices.Result{Device: d, Outcome: devices.Registered}, nil
}

func (f *fakeDevices) Devices(_ context.Context, userID string) ([]devices.Device, error) {
	if err := devices.ValidateUserID(userID); err != nil {
		return nil, err
	}
	var out []devices.Device
	for _, d := range f.byID {
		if d.UserID == userID {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeDevices) UnregisterDevice(_ context.Context, id string) (devices.Device, error) {
	d, ok := f.byID[id]
	if !ok {
		return d, fmt.Errorf("device %s: %w", id, devices.ErrNotFound)
	}
	delete(f.byID, id)
	return d, nil
}

func (f *fakeDevices) UnregisterDevices(ctx context.Context, userID string) ([]devices.Device, error) {
	list, err := f.Devices(ctx, userID)
	for _, d := range list {
		delete(f.byID, d.ID)
	}
	return list, err
}

func (w *world) deviceCall(t *testing.T, routeKey string, params map[string]string, body string) (int, map[string]any) {
	t.Helper()
	method, path, _ := strings.Cut(routeKey, " ")
	for k, v := range params {
		path = strings.Replace(path, "{"+k+"}", v, 1)
	}
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeKey, RawPath: path,
		PathParameters: params, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-2", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method},
			Authorizer: iamBackend()}}
	if body != "" {
		req.Headers = map[string]string{"content-type": "application/json"}
	}
	resp, err := w.h.Handle(context.Background(), req)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	return resp.StatusCode, out
}

func TestDeviceRoutes(t *testing.T) {
	w := newWorld()
	w.h.Devices = &fakeDevices{byID: map[string]devices.Device{}}

	status, body := w.deviceCall(t, "POST /devices", nil, `{"userId":"u-42","token":"tok-1","platform":"fcm"}`)
	assert.Equal(t, 201, status, body)
	assert.Equal(t, "registered", body["outcome"])
	assert.Equal(t, "FCM", body["platform"])
	id := body["deviceId"].(string)

	status, body = w.deviceCall(t, "POST /devices", nil, `{"userId":"u-42","token":"tok-1"}`)
	assert.Equal(t, 200, status, "the same token again: nothing new")
	assert.Equal(t, "unchanged", body["outcome"])

	status, body = w.deviceCall(t, "GET /users/{userId}/devices", map[string]string{"userId": "u-42"}, "")
	assert.Equal(t, 200, status)
	assert.Len(t, body["devices"], 1)
	status, body = w.deviceCall(t, "GET /users/{userId}/devices", map[string]string{"userId": "nobody"}, "")
	assert.Equal(t, 200, status)
	assert.Equal(t, []any{}, body["devices"], "an empty list, not null")

	status, body = w.deviceCall(t, "DELETE /devices/{deviceId}", map[string]string{"deviceId": id}, "")
	assert.Equal(t, 200, status)
	assert.Equal(t, id, body["deviceId"])
	status, body = w.deviceCall(t, "DELETE /devices/{deviceId}", map[string]string{"deviceId": id}, "")
	assert.Equal(t, 404, status)
	code, _, msg := problem(t, body)
	assert.Equal(t, "not_found", code)
	assert.Equal(t, "device "+id+": no such device", msg)

	w.deviceCall(t, "POST /devices", nil, `{"userId":"u-7","token":"a"}`)
	w.deviceCall(t, "POST /devices", nil, `{"userId":"u-7","token":"b"}`)
	status, body = w.deviceCall(t, "DELETE /users/{userId}/devices", map[string]string{"userId": "u-7"}, "")
	assert.Equal(t, 200, status)
	assert.Len(t, body["devices"], 2)
	_, body = w.deviceCall(t, "GET /users/{userId}/devices", map[string]string{"userId": "u-7"}, "")
	assert.Empty(t, body["devices"])
}

func TestDeviceRegistrationErrorsNameTheField(t *testing.T) {
	w := newWorld()
	w.h.Devices = &fakeDevices{byID: map[string]devices.Device{}}
	for body, want := range map[string][3]string{
		`{"token":"t"}`: {"invalid_device", "userId", "invalid userId: missing: the user the device belongs to is required"},
		`{"userId":"u","token":"t","platform":"apns"}`: {"invalid_device", "platform", `invalid platform: unknown platform "apns": supported: FCM`},
		`{"userId":"u","token":"bad token"}`:           {"invalid_device", "token", "invalid token: not an FCM registration token: only letters, digits and : _ . - are allowed"},
		`{"userId":"u","token":7}`:                     {"invalid_device", "token", "invalid token: must be a string"},
		`{"userId":"u","token":"t","os":"android"}`:    {"invalid_request", "os", `unknown field "os"`},
		`[]`: {"invalid_request", "", ""},
	} {
		status, out := w.deviceCall(t, "POST /devices", nil, body)
		assert.Equal(t, 400, status, body)
		code, field, msg := problem(t, out)
		assert.Equal(t, want[0], code, body)
		assert.Equal(t, want[1], field, body)
		if want[2] != "" {
			assert.Equal(t, want[2], msg, body)
		}
	}
	status, _ := w.deviceCall(t, "POST /devices", nil, `{"userId":"u","token":"`+strings.Repeat("t", 70000)+`"}`)
	assert.Equal(t, 413, status)
}
