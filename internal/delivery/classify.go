package delivery

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class says what a failed call means for the delivery.
type Class string

const (
	// Permanent: retrying cannot help (endpoint disabled or gone, rejected payload or key);
	// the delivery is recorded failed and not tried again.
	Permanent Class = "permanent"
	// Retryable: the call was refused before it did anything (throttling, an authorization
	// or key problem, a dependency that is down): trying again later is safe.
	Retryable Class = "transient"
	// Ambiguous: the call may or may not have taken effect (5xx, timeout, connection lost
	// mid-request, anything unknown). For a publish, the delivery guarantee decides.
	Ambiguous Class = "ambiguous"
)

// permanentPublishCodes are the SNS Publish errors that no retry can fix.
var permanentPublishCodes = map[string]bool{
	"EndpointDisabled":      true, // the platform (FCM) reported the token dead
	"NotFound":              true, // the endpoint was deleted
	"InvalidParameter":      true, // bad target ARN or a payload FCM rejects
	"InvalidParameterValue": true,
	"ParameterValueInvalid": true,
}

// ClassifyPublish sorts an SNS Publish error.
func ClassifyPublish(err error) Class {
	if err == nil {
		return ""
	}
	var api smithy.APIError
	if errors.As(err, &api) && permanentPublishCodes[api.ErrorCode()] {
		return Permanent
	}
	return classifyCall(err)
}

// EndpointGone reports whether a publish error says the endpoint itself is dead (disabled by
// the platform, or deleted), rather than the message being wrong.
func EndpointGone(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "EndpointDisabled", "NotFound":
		return true
	case "InvalidParameter":
		return strings.Contains(api.ErrorMessage(), "No endpoint found")
	}
	return false
}

// ClassifyStore sorts a DynamoDB error of the delivery log or the registry. A request
// DynamoDB refuses as invalid (an endpoint ARN over the key size limit, say) never succeeds;
// every other failure is retried. (Log writes are safe to repeat: each claim carries a token.)
func ClassifyStore(err error) Class {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
		return Permanent
	}
	if classifyCall(err) == Ambiguous {
		return Retryable
	}
	return classifyCall(err)
}

// classifyCall tells refused calls (4xx, connection refused) from calls whose effect is
// unknown (5xx, timeouts, broken connections, anything else).
func classifyCall(err error) Class {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Ambiguous
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) {
		if s := resp.HTTPStatusCode(); s >= 400 && s < 500 {
			return Retryable
		}
		return Ambiguous
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if api.ErrorFault() == smithy.FaultClient {
			return Retryable
		}
		return Ambiguous
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return Retryable // the request never left this machine
	}
	return Ambiguous
}

// Reason is a short, log- and table-safe description of err: the API error code and message
// when there is one, the HTTP status for bare HTTP errors, else a category.
func Reason(err error) string {
	var api smithy.APIError
	var resp *smithyhttp.ResponseError
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &api):
		return truncate(api.ErrorCode()+": "+api.ErrorMessage(), 500)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &resp):
		return "http " + strconv.Itoa(resp.HTTPStatusCode())
	case errors.As(err, &netErr):
		return truncate("network: "+err.Error(), 500)
	}
	return truncate(err.Error(), 500)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
