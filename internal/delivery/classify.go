package delivery

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class says what to do after a failed publish.
type Class string

const (
	// Permanent: retrying cannot help (endpoint disabled or gone, rejected payload); the
	// delivery is recorded failed and the message is not retried for it.
	Permanent Class = "permanent"
	// Transient: throttling, 5xx, timeouts, network; the delivery is recorded retry and the
	// message goes back to the queue.
	Transient Class = "transient"
)

// Classify sorts an SNS Publish error. Anything not known to be permanent is transient: an
// unknown error then ends in the DLQ, where it can be inspected and redriven, instead of
// being dropped.
func Classify(err error) Class {
	var (
		disabled *types.EndpointDisabledException
		notFound *types.NotFoundException
		badParam *types.InvalidParameterException
		badValue *types.InvalidParameterValueException
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Transient
	case errors.As(err, &disabled), errors.As(err, &notFound),
		errors.As(err, &badParam), errors.As(err, &badValue):
		return Permanent
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "EndpointDisabled", "NotFound", "InvalidParameter", "ParameterValueInvalid", "InvalidParameterValue":
			return Permanent
		}
	}
	// Throttled, ThrottlingException, KMSThrottling, InternalError, any 5xx, timeouts and
	// network errors are all transient; so is everything else (see above).
	return Transient
}

// Reason is a short, log- and table-safe description of err: the API error code when there is
// one, the HTTP status for bare HTTP errors, else a category.
func Reason(err error) string {
	var api smithy.APIError
	var resp *smithyhttp.ResponseError
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &api):
		return api.ErrorCode() + ": " + api.ErrorMessage()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &resp):
		return "http " + strconv.Itoa(resp.HTTPStatusCode())
	case errors.As(err, &netErr):
		return "network: " + err.Error()
	}
	return err.Error()
}
