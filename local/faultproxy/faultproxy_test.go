package faultproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/local/faultproxy"
)

// emulator answers Publish and UpdateItem like AWS and records the calls it received.
type emulator struct {
	mu    sync.Mutex
	calls []string
}

func (e *emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.calls = append(e.calls, string(body))
	e.mu.Unlock()
	if r.Header.Get("X-Amz-Target") != "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{}`)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, `<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>`)
}

func (e *emulator) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

type setup struct {
	emu    *emulator
	proxy  *faultproxy.Proxy
	admin  faultproxy.Client
	sns    *sns.Client
	ddb    *dynamodb.Client
	killed chan string
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{emu: &emulator{}, killed: make(chan string, 1)}
	backend := httptest.NewServer(s.emu)
	t.Cleanup(backend.Close)
	var err error
	s.proxy, err = faultproxy.New(backend.URL)
	require.NoError(t, err)
	s.proxy.Kill = func(key string) bool { s.killed <- key; return true }
	front := httptest.NewServer(s.proxy)
	t.Cleanup(front.Close)
	s.admin = faultproxy.Client{URL: front.URL}
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "ASIAENV7", SecretAccessKey: "s", SessionToken: "t"}, nil
	})
	s.sns = sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(front.URL), Credentials: creds, RetryMaxAttempts: 1})
	s.ddb = dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(front.URL), Credentials: creds, RetryMaxAttempts: 1})
	return s
}

func (s *setup) publish(target string) (*sns.PublishOutput, error) {
	return s.sns.Publish(context.Background(), &sns.PublishInput{TargetArn: aws.String(target), Message: aws.String("m")})
}

func TestForwardsAndMeasures(t *testing.T) {
	s := newSetup(t)
	out, err := s.publish("arn:aws:sns:us-east-1:1:endpoint/GCM/a/1")
	require.NoError(t, err)
	assert.Equal(t, "m-1", aws.ToString(out.MessageId))
	stats, err := s.admin.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, stats["sns.Publish"].Calls)
	assert.Zero(t, stats["sns.Publish"].Injected)
}

func TestErrorRuleAnswersInTheCallsProtocol(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	_, err := s.admin.Add(ctx, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: "endpoint/GCM/a/2",
		Action: faultproxy.ActionError, Status: 400, Code: "Throttling", Message: "Rate exceeded", Times: 1})
	require.NoError(t, err)
	_, err = s.admin.Add(ctx, faultproxy.Rule{Service: "dynamodb", Operation: "UpdateItem",
		Action: faultproxy.ActionError, Status: 400, Code: "ConditionalCheckFailedException"})
	require.NoError(t, err)

	_, err = s.publish("arn:aws:sns:us-east-1:1:endpoint/GCM/a/1")
	assert.NoError(t, err, "another endpoint: not matched")
	_, err = s.publish("arn:aws:sns:us-east-1:1:endpoint/GCM/a/2")
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "Throttling", api.ErrorCode())
	assert.Equal(t, "Rate exceeded", api.ErrorMessage())
	_, err = s.publish("arn:aws:sns:us-east-1:1:endpoint/GCM/a/2")
	assert.NoError(t, err, "Times: 1")
	assert.Equal(t, 2, s.emu.count(), "the refused call never reached the emulator")

	_, err = s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{}})
	var ccf *ddbtypes.ConditionalCheckFailedException
	assert.True(t, errors.As(err, &ccf), "the SDK decodes the injected error as its own type: %v", err)

	rules, err := s.admin.Rules(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rules[0].Hits)
	stats, err := s.admin.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, faultproxy.OpStats{Calls: 3, Injected: 1, Errors: 1, TotalMs: stats["sns.Publish"].TotalMs, MaxMs: stats["sns.Publish"].MaxMs},
		stats["sns.Publish"], "the injected error counts as a call")
	require.NoError(t, s.admin.Remove(ctx, "all"))
	rules, err = s.admin.Rules(ctx)
	require.NoError(t, err)
	assert.Empty(t, rules)
}

func TestErrorAfterTakesEffectButAnswersAnError(t *testing.T) {
	s := newSetup(t)
	_, err := s.admin.Add(context.Background(), faultproxy.Rule{Service: "sns", Operation: "Publish",
		Action: faultproxy.ActionErrorAfter, Status: 500, Code: "InternalError"})
	require.NoError(t, err)
	_, err = s.publish("arn:x")
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "InternalError", api.ErrorCode())
	assert.Equal(t, 1, s.emu.count(), "the emulator did publish")
}

func TestKillAfterKillsTheCaller(t *testing.T) {
	s := newSetup(t)
	_, err := s.admin.Add(context.Background(), faultproxy.Rule{Service: "sns", Operation: "Publish", Action: faultproxy.ActionKillAfter})
	require.NoError(t, err)
	_, err = s.publish("arn:x")
	require.Error(t, err, "no answer")
	assert.Equal(t, "ASIAENV7", <-s.killed, "the environment that signed the call")
	assert.Equal(t, 1, s.emu.count())
}

func TestDelay(t *testing.T) {
	s := newSetup(t)
	_, err := s.admin.Add(context.Background(), faultproxy.Rule{Service: "sns", Action: faultproxy.ActionDelay, Delay: "200ms"})
	require.NoError(t, err)
	start := time.Now()
	_, err = s.publish("arn:x")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

func TestBadRulesAreRefused(t *testing.T) {
	s := newSetup(t)
	for _, r := range []faultproxy.Rule{
		{Action: faultproxy.ActionError, Code: "X"},
		{Service: "sns", Action: "explode"},
		{Service: "sns", Action: faultproxy.ActionError},
		{Service: "sns", Action: faultproxy.ActionDelay, Delay: "soon"},
		{Service: "sns", Action: faultproxy.ActionKillAfter, Probability: 2},
	} {
		_, err := s.admin.Add(context.Background(), r)
		assert.Error(t, err, "%+v", r)
		assert.True(t, strings.Contains(err.Error(), "400"), err.Error())
	}
}

func TestHoldUntilRemoved(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	rule, err := s.admin.Add(ctx, faultproxy.Rule{Service: "sns", Action: faultproxy.ActionHold})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := s.publish("arn:x"); done <- err }()
	select {
	case <-done:
		t.Fatal("the call was not held")
	case <-time.After(300 * time.Millisecond):
	}
	assert.Zero(t, s.emu.count())
	require.NoError(t, s.admin.Remove(ctx, rule.ID))
	require.NoError(t, <-done, "released: forwarded")
	assert.Equal(t, 1, s.emu.count())
}
