package devices_test

import (
	"testing"

	"github.com/delayed-push/delayed-push/devices"
)

func FuzzValidate(f *testing.F) {
	f.Add("u-1", "tok:abc_1.2-3", "fcm", "")
	f.Add(" u", "a b", "apns", "../x")
	f.Fuzz(func(t *testing.T, user, token, platform, id string) {
		r, err := devices.Validate(devices.Registration{UserID: user, Token: token, Platform: platform, DeviceID: id})
		if err != nil {
			if _, ok := err.(*devices.InvalidError); !ok {
				t.Fatalf("not an InvalidError: %v", err)
			}
			return
		}
		if r.Platform != devices.PlatformFCM || r.UserID == "" || r.Token == "" {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add(`{"Type":"Notification","Message":"{\"EventType\":\"DeliveryFailure\",\"EndpointArn\":\"arn:aws:sns:us-east-1:123456789012:endpoint/GCM/a/x\"}"}`)
	f.Add(`{"EventType":"EndpointUpdated","EndpointArn":"arn:aws:sns:us-east-1:123456789012:endpoint/GCM/a/x","Attributes":{"Enabled":"false"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		e, err := devices.ParseEvent(body)
		if err == nil && (e.EventType == "" || devices.IDOf(e.EndpointArn) == "") {
			t.Fatalf("accepted %+v", e)
		}
	})
}
