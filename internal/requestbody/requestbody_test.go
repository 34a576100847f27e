package requestbody_test

import (
	"encoding/base64"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/requestbody"
)

var jsonHeaders = map[string]string{"content-type": "application/json"}

func TestRead(t *testing.T) {
	b, bad := requestbody.Read(events.APIGatewayV2HTTPRequest{Body: `{"a":1}`}, 7)
	require.Nil(t, bad)
	assert.Equal(t, `{"a":1}`, string(b))

	b, bad = requestbody.Read(events.APIGatewayV2HTTPRequest{Body: base64.StdEncoding.EncodeToString([]byte("\x00\xff")), IsBase64Encoded: true}, 2)
	require.Nil(t, bad)
	assert.Equal(t, "\x00\xff", string(b), "the limit is on the decoded body")

	_, bad = requestbody.Read(events.APIGatewayV2HTTPRequest{Body: "not base64!", IsBase64Encoded: true}, 100)
	assert.Equal(t, &requestbody.Refusal{Status: 400, Code: "invalid_request", Message: "the body is not valid base64"}, bad)

	_, bad = requestbody.Read(events.APIGatewayV2HTTPRequest{Body: `{"a":1}`}, 6)
	assert.Equal(t, &requestbody.Refusal{Status: 413, Code: "payload_too_large", Message: "the body is 7 bytes, at most 6"}, bad)
}

func TestReadJSONWantsAJSONContentType(t *testing.T) {
	for _, ct := range []string{"application/json", "Application/JSON; charset=UTF-8", "application/json;profile=x"} {
		_, bad := requestbody.ReadJSON(events.APIGatewayV2HTTPRequest{Body: `{}`, Headers: map[string]string{"Content-Type": ct}}, 100)
		assert.Nil(t, bad, ct)
	}
	for ct, why := range map[string]string{
		"":                                  "the request has no Content-Type",
		"text/plain":                        `Content-Type "text/plain" is not application/json`,
		"application/json; charset=latin-1": `charset "latin-1": JSON is UTF-8`,
	} {
		headers := map[string]string{"content-type": ct}
		_, bad := requestbody.ReadJSON(events.APIGatewayV2HTTPRequest{Body: `{}`, Headers: headers}, 100)
		assert.Equal(t, &requestbody.Refusal{Status: 415, Code: "unsupported_media_type",
			Message: "the body must be JSON: " + why + "; send Content-Type: application/json"}, bad, ct)
	}

	b, bad := requestbody.ReadJSON(events.APIGatewayV2HTTPRequest{}, 100)
	assert.Nil(t, bad, "no body: nothing to declare")
	assert.Empty(t, b)

	_, bad = requestbody.ReadJSON(events.APIGatewayV2HTTPRequest{Body: `{"a":1}`, Headers: jsonHeaders}, 6)
	assert.Equal(t, 413, bad.Status, "declared JSON, then the limit")
}
