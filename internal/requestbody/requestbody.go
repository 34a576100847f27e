// Package requestbody reads the body of an API Gateway HTTP API request (payload format 2.0)
// for the HTTP API and the Shopify webhook receiver alike: decoded from base64 when API
// Gateway encoded it, within a size limit, and, for the API, declared JSON. A body refused
// gets the same status, code and message from both.
package requestbody

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/jsonfield"
)

// Codes of a refused body, the answer's error code.
const (
	CodeInvalidRequest   = "invalid_request"        // 400: the body is not valid base64
	CodePayloadTooLarge  = "payload_too_large"      // 413
	CodeUnsupportedMedia = "unsupported_media_type" // 415: a body not sent as Content-Type application/json
)

// Refusal is why a body is refused: the HTTP status, the code and the message to answer.
type Refusal struct {
	Status  int
	Code    string
	Message string
}

// Read returns the body of req, decoded from base64 if API Gateway encoded it: 400 if it is
// not valid base64, 413 if it is over limit bytes once decoded.
func Read(req events.APIGatewayV2HTTPRequest, limit int) ([]byte, *Refusal) {
	b := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if b, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, &Refusal{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the body is not valid base64"}
		}
	}
	if len(b) > limit {
		return nil, &Refusal{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge,
			Message: fmt.Sprintf("the body is %d bytes, at most %d", len(b), limit)}
	}
	return b, nil
}

// ReadJSON is Read for a route that takes JSON. A body must first be declared JSON, or it is
// refused with 415: its Content-Type must be application/json (any case), parameters
// allowed, a charset only utf-8 (JSON is UTF-8, RFC 8259). A body without a Content-Type is
// refused too: a caller that does not say JSON may not mean it, and a web page's script can
// send one so to another site without a CORS preflight. A request without a body is not
// checked: the route answers it (an empty body is a 400 on the routes that take one).
func ReadJSON(req events.APIGatewayV2HTTPRequest, limit int) ([]byte, *Refusal) {
	if req.Body != "" {
		if bad := jsonContent(req.Headers); bad != nil {
			return nil, bad
		}
	}
	return Read(req, limit)
}

func jsonContent(headers map[string]string) *Refusal {
	refuse := func(format string, args ...any) *Refusal {
		return &Refusal{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
			Message: fmt.Sprintf("the body must be JSON: "+format+"; send Content-Type: application/json", args...)}
	}
	value, given := header(headers, "content-type")
	if !given || strings.TrimSpace(value) == "" {
		return refuse("the request has no Content-Type")
	}
	mediaType, params, err := mime.ParseMediaType(value)
	switch {
	case err != nil:
		return refuse("Content-Type %s is not a media type (%v)", jsonfield.Quote(value), err)
	case mediaType != "application/json":
		return refuse("Content-Type %s is not application/json", jsonfield.Quote(value))
	case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
		return refuse("charset %s: JSON is UTF-8", jsonfield.Quote(params["charset"]))
	}
	return nil
}

// header is a request header's value. API Gateway's payload 2.0 gives header names in lower
// case; the name is matched in any case all the same, for callers that build events by hand.
func header(headers map[string]string, name string) (string, bool) {
	if v, ok := headers[name]; ok {
		return v, true
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}
