package awsadapters_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/delivery"
)

// snsServer answers every request with one SNS error (status, code) and counts requests.
func snsServer(t *testing.T, status int, code string) (*sns.Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>`+
			`<Code>%s</Code><Message>from the test server</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`, code)
	}))
	t.Cleanup(srv.Close)
	client := sns.New(sns.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      awsadapters.PublishRetryer(),
	})
	return client, &calls
}

// The SDK's real error chain, from a real HTTP answer, reaches the classifier intact, and
// only throttling is retried by the SDK itself.
func TestPublishErrorsFromTheWire(t *testing.T) {
	cases := []struct {
		status int
		code   string
		class  delivery.Class
		calls  int32
	}{
		{400, "Throttling", delivery.Retryable, 3},
		{400, "Throttled", delivery.Retryable, 3},
		{400, "EndpointDisabled", delivery.Permanent, 1},
		{404, "NotFound", delivery.Permanent, 1},
		{400, "InvalidParameter", delivery.Permanent, 1},
		{403, "AuthorizationError", delivery.Retryable, 1},
		{400, "KMSThrottling", delivery.Retryable, 1},
		{500, "InternalError", delivery.Ambiguous, 1},
		{503, "ServiceUnavailable", delivery.Ambiguous, 1},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			client, calls := snsServer(t, tc.status, tc.code)
			_, err := (&awsadapters.Publisher{Client: client}).Publish(context.Background(), ep, `{"GCM":"{}"}`)
			require.Error(t, err)
			assert.Equal(t, tc.class, delivery.ClassifyPublish(err), "%v", err)
			assert.Equal(t, tc.calls, calls.Load(), "requests sent")
			assert.Contains(t, delivery.Reason(err), tc.code)
		})
	}
}
