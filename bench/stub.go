package bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/metrics"
)

// Stub is a loopback HTTP server that answers the sender's AWS calls at once, as AWS would
// answer a push to a user with one device: the Query finds the device, the claim and the
// record succeed, the publish gets a message id. With it the real SDK clients do all their
// work (serializing, signing, HTTP, deserializing), without a network.
type Stub struct {
	URL   string
	Calls atomic.Int64
	srv   *httptest.Server
}

// NewStub starts the stub; Close stops it.
func NewStub() *Stub {
	st := &Stub{}
	device := `{"Count":1,"ScannedCount":1,"Items":[{"userId":{"S":"user-42"},"endpointArn":{"S":"` + EndpointARN("user-42", 0) + `"},"platform":{"S":"FCM"},"enabled":{"BOOL":true}}]}`
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.Calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, "DynamoDB_20120810."):
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			if strings.HasSuffix(target, ".Query") {
				_, _ = io.WriteString(w, device)
				return
			}
			_, _ = io.WriteString(w, `{}`)
		case strings.HasPrefix(target, "AmazonSQS."):
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			_, _ = io.WriteString(w, `{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"d41d8cd98f00b204e9800998ecf8427e"}`)
		case strings.Contains(string(body), "Action=Publish"):
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult><ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata></PublishResponse>`)
		default:
			http.Error(w, "bench stub: unexpected call "+target, http.StatusBadRequest)
		}
	}))
	st.URL = st.srv.URL
	return st
}

// Close stops the server.
func (st *Stub) Close() { st.srv.Close() }

// Service is the sender wired as internal/senderapp wires it (one configuration, one client
// per service, the publish retryer), its clients pointed at the stub over loopback HTTP.
func (st *Stub) Service() *delivery.Service { return st.service(nil) }

// InProcessService is Service with the stub's handler called in process, without HTTP: what
// is left is the SDK's own work (serializing, signing, deserializing) and the sender's.
func (st *Stub) InProcessService() *delivery.Service {
	return st.service(handlerClient{st.srv.Config.Handler})
}

func (st *Stub) service(client aws.HTTPClient) *delivery.Service {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", "token")),
		BaseEndpoint: aws.String(st.URL),
		HTTPClient:   client,
	}
	ddb := dynamodb.NewFromConfig(cfg)
	return &delivery.Service{
		Registry: &awsadapters.Registry{Client: ddb, Table: DevicesTable},
		Log:      &awsadapters.DeliveryLog{Client: ddb, Table: DeliveriesTable, Retention: 30 * 24 * time.Hour},
		Publisher: &awsadapters.Publisher{Client: sns.NewFromConfig(cfg, func(o *sns.Options) {
			o.Retryer = awsadapters.PublishRetryer()
		})},
		Queue: &awsadapters.Queues{Client: sqs.NewFromConfig(cfg), PushQueueURL: st.URL + "/123456789012/push",
			DeadLetterQueue: st.URL + "/123456789012/dlq"},
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:     &metrics.Emitter{W: io.Discard, Function: "sender"},
		Guarantee:   "at-least-once",
		MaxLateness: 24 * time.Hour,
	}
}

// handlerClient answers the SDK's requests with a handler, in process.
type handlerClient struct{ h http.Handler }

func (c handlerClient) Do(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
