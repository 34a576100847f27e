package httpapi

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/devices"
)

// Any body on any route: no panic, a JSON answer, never a 5xx for what the caller sent.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{`{"key":"k","delaySeconds":5,"push":{"userId":"u","title":"t"}}`, `{"push":{"userId":"u","body":"b"},"now":true}`,
		`{"userId":"u","token":"t"}`, `{`, `[]`, "\xff"} {
		f.Add(s, uint8(0))
	}
	routes := []string{"POST /pushes", "PUT /pushes/{key}", "POST /devices", "GET /pushes"}
	w := newWorld()
	w.h.Devices = &fakeDevices{byID: map[string]devices.Device{}}
	f.Fuzz(func(t *testing.T, body string, route uint8) {
		rk := routes[int(route)%len(routes)]
		resp, err := w.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: rk, Body: body,
			Headers:        map[string]string{"content-type": "application/json"},
			PathParameters: map[string]string{"key": "k"}, QueryStringParameters: map[string]string{"userId": body},
			RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: iamBackend()}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %q: %d %s", rk, body, resp.StatusCode, resp.Body)
		}
		if !json.Valid([]byte(resp.Body)) {
			t.Fatalf("not JSON: %s", resp.Body)
		}
	})
}
