package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
)

// countingPushes counts the calls that reach the client.
type countingPushes struct {
	Pushes
	calls int
}

func (c *countingPushes) Schedule(ctx context.Context, r client.Request) (client.Scheduled, error) {
	c.calls++
	return c.Pushes.Schedule(ctx, r)
}
func (c *countingPushes) Get(ctx context.Context, key string) (client.Status, error) {
	c.calls++
	return c.Pushes.Get(ctx, key)
}
func (c *countingPushes) Cancel(ctx context.Context, key string) (client.Status, error) {
	c.calls++
	return c.Pushes.Cancel(ctx, key)
}
func (c *countingPushes) Reschedule(ctx context.Context, key string, ch client.Change) (client.Scheduled, error) {
	c.calls++
	return c.Pushes.Reschedule(ctx, key, ch)
}
func (c *countingPushes) List(ctx context.Context, o client.ListOptions) (client.Page, error) {
	c.calls++
	return c.Pushes.List(ctx, o)
}

// countingDevices counts the calls that reach the registry.
type countingDevices struct {
	*fakeDevices
	calls int
}

func (c *countingDevices) RegisterDevice(ctx context.Context, r devices.Registration) (devices.Result, error) {
	c.calls++
	return c.fakeDevices.RegisterDevice(ctx, r)
}
func (c *countingDevices) Devices(ctx context.Context, userID string) ([]devices.Device, error) {
	c.calls++
	return c.fakeDevices.Devices(ctx, userID)
}
func (c *countingDevices) UnregisterDevice(ctx context.Context, id string) (devices.Device, error) {
	c.calls++
	return c.fakeDevices.UnregisterDevice(ctx, id)
}
func (c *countingDevices) UnregisterDevices(ctx context.Context, userID string) ([]devices.Device, error) {
	c.calls++
	return c.fakeDevices.UnregisterDevices(ctx, userID)
}

// fakeOwners reads device owners from the fake registry and keeps push owners as the
// schedules table would: the first one recorded stays.
type fakeOwners struct {
	devs      *fakeDevices
	pushes    map[string]string
	retired   map[string]bool
	deviceErr error
	recordErr error
}

func (f *fakeOwners) DeviceOwner(_ context.Context, id string) (string, bool, error) {
	if f.deviceErr != nil {
		return "", false, f.deviceErr
	}
	if f.retired[id] {
		return "", false, nil
	}
	d, ok := f.devs.byID[id]
	return d.UserID, ok, nil
}

func (f *fakeOwners) RecordPushOwner(_ context.Context, key, owner string) error {
	if f.recordErr != nil {
		return f.recordErr
	}
	if _, ok := f.pushes[key]; !ok {
		f.pushes[key] = owner
	}
	return nil
}

// jwtWorld is the API in JWT mode over the fake client, registry and owners.
type jwtWorld struct {
	*world
	pushes *countingPushes
	devs   *countingDevices
	owners *fakeOwners
}

func newJWTWorld() *jwtWorld {
	w := newWorld()
	fd := &fakeDevices{byID: map[string]devices.Device{}}
	j := &jwtWorld{world: w, pushes: &countingPushes{Pushes: w.h.Pushes}, devs: &countingDevices{fakeDevices: fd},
		owners: &fakeOwners{devs: fd, pushes: map[string]string{}, retired: map[string]bool{}}}
	w.h.Pushes, w.h.Devices, w.h.Owners = j.pushes, j.devs, j.owners
	w.h.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // refusals are logged: not here
	return j
}

// token is what API Gateway's JWT authorizer passes on for a token with these claims (every
// value a string) and, when a route requires scopes, these scopes.
func token(claims map[string]string, scopes ...string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	base := map[string]string{"iss": "https://auth.example.com/", "aud": "delayed-push", "exp": "1796115600", "iat": "1796112000"}
	for k, v := range claims {
		base[k] = v
	}
	for k, v := range claims {
		if v == "<absent>" {
			delete(base, k)
		}
	}
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
		Claims: base, Scopes: scopes}}
}

func userToken(user string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	return token(map[string]string{"sub": user, "scope": "openid profile"})
}

func backendToken(sub string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	return token(map[string]string{"sub": sub, "scope": "openid delayed-push/backend"})
}

// call sends routeKey with path parameters, a body and a query, as authz's caller.
func (w *world) call(t *testing.T, authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription, routeKey string,
	params map[string]string, body string, query map[string]string) (int, map[string]any) {
	t.Helper()
	method, path, _ := strings.Cut(routeKey, " ")
	for k, v := range params {
		path = strings.Replace(path, "{"+k+"}", v, 1)
	}
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeKey, RawPath: path, PathParameters: params, Body: body,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-auth", Authorizer: authz,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method}}}
	if body != "" {
		req.Headers = map[string]string{"content-type": "application/json"}
	}
	resp, err := w.h.Handle(context.Background(), req)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	return resp.StatusCode, out
}

// refusedWith checks a 403 forbidden answer and returns its message.
func refusedWith(t *testing.T, status int, out map[string]any, contains string) {
	t.Helper()
	require.Equal(t, 403, status, "%v", out)
	code, field, msg := problem(t, out)
	assert.Equal(t, CodeForbidden, code)
	assert.Empty(t, field)
	assert.Contains(t, msg, contains)
}

func TestEveryRouteHasAnAuthorizationRule(t *testing.T) {
	var ruled []string
	for r := range RouteAuthorization {
		ruled = append(ruled, r)
	}
	sort.Strings(ruled)
	routes := append([]string{}, Routes...)
	sort.Strings(routes)
	assert.Equal(t, routes, ruled)
}

// A user's token reaches the user's own devices, and nothing of anyone else: each refusal is
// 403 forbidden, and the registry is not called.
func TestAUserTokenActsOnlyOnTheUsersOwnDevices(t *testing.T) {
	w := newJWTWorld()
	bob := userToken("bob")
	status, out := w.call(t, bob, "POST /devices", nil, `{"userId":"bob","token":"bob-phone"}`, nil)
	require.Equal(t, 201, status, "%v", out)
	bobsDevice := out["deviceId"].(string)
	before := len(w.devs.byID)
	calls := w.devs.calls

	alice := userToken("alice")
	for _, c := range []struct {
		route, body string
		params      map[string]string
		want        string
	}{
		{"POST /devices", `{"userId":"bob","token":"alice-phone"}`, nil, `the token's user is "alice", the request is for "bob"`},
		{"GET /users/{userId}/devices", "", map[string]string{"userId": "bob"}, `the token's user is "alice", the request is for "bob"`},
		{"DELETE /users/{userId}/devices", "", map[string]string{"userId": "bob"}, `the token's user is "alice", the request is for "bob"`},
		{"DELETE /devices/{deviceId}", "", map[string]string{"deviceId": bobsDevice}, `device "` + bobsDevice + `" is another user's, not the token's user "alice"`},
	} {
		status, out := w.call(t, alice, c.route, c.params, c.body, nil)
		refusedWith(t, status, out, c.want)
		if c.params["deviceId"] != "" {
			assert.NotContains(t, out["error"].(map[string]any)["message"], "bob", "the owner is not named")
		}
	}
	assert.Equal(t, calls, w.devs.calls, "no refused request reached the registry")
	assert.Len(t, w.devs.byID, before, "bob's devices are as they were")
	assert.Equal(t, "bob", w.devs.byID[bobsDevice].UserID)

	// Her own devices, she may.
	status, out = w.call(t, alice, "POST /devices", nil, `{"userId":"alice","token":"alice-phone"}`, nil)
	require.Equal(t, 201, status, "%v", out)
	hers := out["deviceId"].(string)
	status, out = w.call(t, alice, "GET /users/{userId}/devices", map[string]string{"userId": "alice"}, "", nil)
	assert.Equal(t, 200, status)
	assert.Len(t, out["devices"], 1)
	status, _ = w.call(t, alice, "DELETE /devices/{deviceId}", map[string]string{"deviceId": hers}, "", nil)
	assert.Equal(t, 200, status)
	w.call(t, alice, "POST /devices", nil, `{"userId":"alice","token":"alice-tablet"}`, nil)
	status, out = w.call(t, alice, "DELETE /users/{userId}/devices", map[string]string{"userId": "alice"}, "", nil)
	assert.Equal(t, 200, status)
	assert.Len(t, out["devices"], 1)
	assert.Equal(t, "bob", w.devs.byID[bobsDevice].UserID, "bob's device is still his")
}

// A deviceId in a registration picks among the user's own devices only (the registry goes by
// the token otherwise): another user's id is passed on, and the user is the token's.
func TestARegistrationWithAnotherUsersDeviceIdIsTheCallersOwn(t *testing.T) {
	w := newJWTWorld()
	_, out := w.call(t, userToken("bob"), "POST /devices", nil, `{"userId":"bob","token":"bob-phone"}`, nil)
	bobsDevice := out["deviceId"].(string)
	status, out := w.call(t, userToken("alice"), "POST /devices", nil, `{"userId":"alice","token":"alice-phone","deviceId":"`+bobsDevice+`"}`, nil)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, "alice", out["userId"])
	assert.NotEqual(t, bobsDevice, out["deviceId"])
	assert.Equal(t, "bob", w.devs.byID[bobsDevice].UserID)
}

// Every push route is for backends: a user's token gets 403 naming the missing scope, and
// nothing reaches the client (no row, no execution, no message).
func TestAUserTokenReachesNoPush(t *testing.T) {
	w := newJWTWorld()
	status, out := w.call(t, backendToken("svc-orders"), "POST /pushes", nil, `{"key":"bobs-order","delaySeconds":300,"push":{"userId":"bob","title":"t"}}`, nil)
	require.Equal(t, 201, status, "%v", out)
	calls, started := w.pushes.calls, len(w.sfn.inputs)

	alice := userToken("alice")
	for _, c := range []struct {
		route, body string
		query       map[string]string
	}{
		{"POST /pushes", `{"key":"k","delaySeconds":300,"push":{"userId":"alice","title":"t"}}`, nil},
		{"GET /pushes", "", map[string]string{"userId": "bob"}},
		{"GET /pushes", "", map[string]string{"userId": "alice"}},
		{"GET /pushes/{key}", "", nil},
		{"PUT /pushes/{key}", `{"delaySeconds":60}`, nil},
		{"DELETE /pushes/{key}", "", nil},
	} {
		status, out := w.call(t, alice, c.route, map[string]string{"key": "bobs-order"}, c.body, c.query)
		refusedWith(t, status, out, c.route+` is for backends (IAM authorization, or a token with the scope "delayed-push/backend"): the token of user "alice" does not have that scope`)
	}
	assert.Equal(t, calls, w.pushes.calls, "no refused request reached the client")
	assert.Len(t, w.sfn.inputs, started)
	assert.Empty(t, w.sqs.bodies)
	st, err := w.pushes.Pushes.Get(context.Background(), "bobs-order")
	require.NoError(t, err)
	assert.Equal(t, "scheduled", st.State)
	assert.Equal(t, 1, st.Revision)
}

// A token with the backend scope does everything the client does, for any user, and the
// pushes it creates record its sub as their owner.
func TestABackendTokenDoesEverything(t *testing.T) {
	w := newJWTWorld()
	svc := backendToken("svc-orders")
	status, out := w.call(t, svc, "POST /pushes", nil, `{"key":"o-1","delaySeconds":300,"push":{"userId":"bob","title":"t"}}`, nil)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, "jwt:svc-orders", w.owners.pushes["o-1"])
	// The same call by another backend (IAM): already scheduled, and the owner stays the creator.
	status, _ = w.call(t, iamBackend(), "POST /pushes", nil, `{"key":"o-1","delaySeconds":300,"push":{"userId":"bob","title":"t"}}`, nil)
	assert.Equal(t, 200, status, "already scheduled")
	assert.Equal(t, "jwt:svc-orders", w.owners.pushes["o-1"])
	status, _ = w.call(t, svc, "GET /pushes/{key}", map[string]string{"key": "o-1"}, "", nil)
	assert.Equal(t, 200, status)
	status, out = w.call(t, svc, "GET /pushes", nil, "", map[string]string{"userId": "bob"})
	assert.Equal(t, 200, status)
	assert.Len(t, out["pushes"], 1)
	status, out = w.call(t, svc, "PUT /pushes/{key}", map[string]string{"key": "o-1"}, `{"delaySeconds":600}`, nil)
	assert.Equal(t, 200, status, "%v", out)
	status, out = w.call(t, svc, "DELETE /pushes/{key}", map[string]string{"key": "o-1"}, "", nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, "cancelled", out["state"])

	status, out = w.call(t, svc, "POST /devices", nil, `{"userId":"bob","token":"bob-phone"}`, nil)
	require.Equal(t, 201, status)
	id := out["deviceId"].(string)
	status, _ = w.call(t, svc, "GET /users/{userId}/devices", map[string]string{"userId": "bob"}, "", nil)
	assert.Equal(t, 200, status)
	status, _ = w.call(t, svc, "DELETE /devices/{deviceId}", map[string]string{"deviceId": id}, "", nil)
	assert.Equal(t, 200, status)
	status, _ = w.call(t, svc, "DELETE /users/{userId}/devices", map[string]string{"userId": "bob"}, "", nil)
	assert.Equal(t, 200, status)
}

func TestIAMCallersAreBackendsAndOwnWhatTheyCreate(t *testing.T) {
	w := newJWTWorld()
	status, out := w.call(t, iamBackend(), "POST /pushes", nil, `{"key":"i-1","delaySeconds":0,"push":{"userId":"bob","title":"t"}}`, nil)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, "iam:arn:aws:sts::123456789012:assumed-role/orders-api/orders", w.owners.pushes["i-1"])
	status, _ = w.call(t, iamBackend(), "DELETE /users/{userId}/devices", map[string]string{"userId": "anyone"}, "", nil)
	assert.Equal(t, 200, status)

	calls := w.pushes.calls
	for name, authz := range map[string]*events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		"no authorizer":           nil,
		"an empty authorizer":     {},
		"IAM naming no caller":    {IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}},
		"a Lambda authorizer":     {Lambda: map[string]any{"backend": true}},
		"JWT without any claim":   {JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{}},
		"JWT with scopes, no sub": {JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Scopes: []string{"delayed-push/backend"}}},
	} {
		status, out := w.call(t, authz, "POST /pushes", nil, `{"key":"i-2","delaySeconds":0,"push":{"userId":"bob","title":"t"}}`, nil)
		assert.Equal(t, 403, status, name)
		code, _, _ := problem(t, out)
		assert.Equal(t, CodeForbidden, code, name)
	}
	assert.Equal(t, calls, w.pushes.calls)
}

// The push is scheduled but its owner not recorded: 503, and the same request again records it.
func TestAnOwnerNotRecordedIsRetried(t *testing.T) {
	w := newJWTWorld()
	w.owners.recordErr = &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Fault: smithy.FaultClient}
	body := `{"key":"r-1","delaySeconds":60,"push":{"userId":"bob","title":"t"}}`
	status, out := w.call(t, backendToken("svc"), "POST /pushes", nil, body, nil)
	assert.Equal(t, 503, status)
	code, _, msg := problem(t, out)
	assert.Equal(t, CodeUnavailable, code)
	assert.Equal(t, `the push "r-1" is scheduled, but its owner could not be recorded; retry the same request`, msg)
	w.owners.recordErr = nil
	status, _ = w.call(t, backendToken("svc"), "POST /pushes", nil, body, nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, "jwt:svc", w.owners.pushes["r-1"])
}

// Hostile user claims: each is refused with 403 naming the claim and what is wrong with it,
// before anything is read or written.
func TestUserClaimsThatNameNoUserAreRefused(t *testing.T) {
	long := strings.Repeat("u", 300)
	for name, c := range map[string]struct{ value, want string }{
		"missing":               {"<absent>", `the token's "sub" claim is missing: the API takes the caller's user id from it`},
		"empty":                 {"", `the token's "sub" claim is empty`},
		"a list":                {"[alice bob]", `the token's "sub" claim is a list ("[alice bob]"), not one id`},
		"a list of one":         {"[alice]", `is a list ("[alice]"), not one id`},
		"an object":             {`{"id":"alice"}`, `the token's "sub" claim is an object, not one id`},
		"a NUL":                 {"ali\x00ce", `is not a user id ("ali\u0000ce"): must be valid UTF-8 without control characters`},
		"a newline":             {"alice\nadmin", `is not a user id ("alice\nadmin"): must be valid UTF-8 without control characters`},
		"a DEL":                 {"alice\x7f", `must be valid UTF-8 without control characters`},
		"invalid UTF-8":         {"alice\xff", `must be valid UTF-8 without control characters`},
		"white space at an end": {" alice", `is not a user id (" alice"): must not start or end with white space`},
		"too long":              {long, `(300 bytes in all)): 300 bytes, over the limit of 256`},
	} {
		t.Run(name, func(t *testing.T) {
			w := newJWTWorld()
			authz := token(map[string]string{"sub": c.value})
			for _, route := range []struct {
				key, body string
				params    map[string]string
			}{
				{"POST /devices", `{"userId":"alice","token":"t"}`, nil},
				{"GET /users/{userId}/devices", "", map[string]string{"userId": c.value}},
				{"DELETE /users/{userId}/devices", "", map[string]string{"userId": c.value}},
				{"DELETE /devices/{deviceId}", "", map[string]string{"deviceId": "dev-1"}},
			} {
				status, out := w.call(t, authz, route.key, route.params, route.body, nil)
				refusedWith(t, status, out, c.want)
			}
			assert.Zero(t, w.devs.calls)
		})
	}
}

// The backend scope is found in scope (a space-separated string) and scp (a list, which API
// Gateway passes as "[a b]", or a string), and in the authorizer's scopes: whole, in its case,
// split on spaces only.
func TestTheBackendScopeInEveryFormat(t *testing.T) {
	backend := map[string]*events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		"scope string":          token(map[string]string{"sub": "svc", "scope": "openid delayed-push/backend"}),
		"scope alone":           token(map[string]string{"sub": "svc", "scope": "delayed-push/backend"}),
		"scope with two spaces": token(map[string]string{"sub": "svc", "scope": "openid  delayed-push/backend"}),
		"scp list":              token(map[string]string{"sub": "svc", "scp": "[openid delayed-push/backend]"}),
		"scp list of one":       token(map[string]string{"sub": "svc", "scp": "[delayed-push/backend]"}),
		"scp string":            token(map[string]string{"sub": "svc", "scp": "delayed-push/backend"}),
		"a scope list":          token(map[string]string{"sub": "svc", "scope": "[delayed-push/backend email]"}),
		"authorizer scopes":     token(map[string]string{"sub": "svc"}, "delayed-push/backend"),
	}
	user := map[string]*events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		"a longer scope":       token(map[string]string{"sub": "alice", "scope": "delayed-push/backend-admin"}),
		"a prefix":             token(map[string]string{"sub": "alice", "scope": "delayed-push/back"}),
		"another case":         token(map[string]string{"sub": "alice", "scope": "Delayed-Push/Backend"}),
		"a no-break space":     token(map[string]string{"sub": "alice", "scope": "openid\u00a0delayed-push/backend"}),
		"a tab":                token(map[string]string{"sub": "alice", "scope": "openid\tdelayed-push/backend"}),
		"a comma":              token(map[string]string{"sub": "alice", "scope": "openid,delayed-push/backend"}),
		"quoted":               token(map[string]string{"sub": "alice", "scope": `"delayed-push/backend"`}),
		"a list in a list":     token(map[string]string{"sub": "alice", "scp": "[[delayed-push/backend]]"}),
		"another claim":        token(map[string]string{"sub": "alice", "roles": "delayed-push/backend", "scopes": "delayed-push/backend"}),
		"the scope as the sub": token(map[string]string{"sub": "delayed-push/backend"}),
	}
	for name, authz := range backend {
		w := newJWTWorld()
		status, out := w.call(t, authz, "GET /pushes", nil, "", nil)
		assert.Equal(t, 200, status, "%s: %v", name, out)
	}
	for name, authz := range user {
		w := newJWTWorld()
		status, out := w.call(t, authz, "GET /pushes", nil, "", nil)
		assert.Equal(t, 403, status, "%s: %v", name, out)
		assert.Zero(t, w.pushes.calls, name)
	}
}

// A backend token names its principal in sub: one without a usable sub is refused.
func TestABackendTokenNeedsASub(t *testing.T) {
	for name, sub := range map[string]string{"missing": "<absent>", "empty": "", "a list": "[a b]", "a control character": "svc\x01"} {
		w := newJWTWorld()
		status, out := w.call(t, token(map[string]string{"sub": sub, "scope": "delayed-push/backend"}), "POST /pushes", nil,
			`{"key":"k","delaySeconds":60,"push":{"userId":"bob","title":"t"}}`, nil)
		refusedWith(t, status, out, `the token has the backend scope "delayed-push/backend", but its sub claim `)
		assert.Zero(t, w.pushes.calls, name)
		assert.Empty(t, w.owners.pushes, name)
	}
}

func TestTheUserClaimAndBackendScopeAreConfigurable(t *testing.T) {
	w := newJWTWorld()
	w.h.UserClaim, w.h.BackendScope = "email", "push:admin"
	status, out := w.call(t, token(map[string]string{"sub": "123", "email": "alice@example.com"}), "GET /users/{userId}/devices",
		map[string]string{"userId": "alice@example.com"}, "", nil)
	assert.Equal(t, 200, status, "%v", out)
	status, out = w.call(t, token(map[string]string{"sub": "123", "email": "alice@example.com"}), "GET /users/{userId}/devices",
		map[string]string{"userId": "123"}, "", nil)
	refusedWith(t, status, out, `the token's user is "alice@example.com", the request is for "123"`)
	status, out = w.call(t, token(map[string]string{"sub": "123"}), "GET /users/{userId}/devices", map[string]string{"userId": "123"}, "", nil)
	refusedWith(t, status, out, `the token's "email" claim is missing`)

	status, _ = w.call(t, token(map[string]string{"sub": "svc", "scope": "push:admin"}), "GET /pushes", nil, "", nil)
	assert.Equal(t, 200, status)
	status, out = w.call(t, token(map[string]string{"sub": "svc", "email": "svc@example.com", "scope": "delayed-push/backend"}), "GET /pushes", nil, "", nil)
	refusedWith(t, status, out, `the scope "push:admin"`)
}

// A path's userId is compared byte for byte, as API Gateway decoded it: another case, or
// percent-encoding left in it (a double-encoded path), is another user.
func TestPathUserIdsDifferingInCaseOrEncodingAreOtherUsers(t *testing.T) {
	w := newJWTWorld()
	w.call(t, userToken("Alice"), "POST /devices", nil, `{"userId":"Alice","token":"t-upper"}`, nil)
	w.call(t, userToken("al%69ce"), "POST /devices", nil, `{"userId":"al%69ce","token":"t-encoded"}`, nil)
	calls := w.devs.calls
	alice := userToken("alice")
	for _, other := range []string{"Alice", "ALICE", "al%69ce", "alice%20", "alice ", "alice\u200b", "ａｌｉｃｅ"} {
		for _, route := range []string{"GET /users/{userId}/devices", "DELETE /users/{userId}/devices"} {
			status, out := w.call(t, alice, route, map[string]string{"userId": other}, "", nil)
			refusedWith(t, status, out, `the token's user is "alice", the request is for `)
		}
		status, out := w.call(t, alice, "POST /devices", nil, `{"userId":`+jsonString(other)+`,"token":"t"}`, nil)
		if status != 400 { // "alice " is not a user id at all
			refusedWith(t, status, out, `the token's user is "alice", the request is for `)
		}
	}
	assert.Equal(t, calls, w.devs.calls)
	assert.Len(t, w.devs.byID, 2, "Alice's and al%69ce's devices are untouched")
	// "/users/al%69ce/devices" as sent: API Gateway decodes it to alice, who may.
	status, _ := w.call(t, alice, "GET /users/{userId}/devices", map[string]string{"userId": "alice"}, "", nil)
	assert.Equal(t, 200, status)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRemovingADeviceByIdChecksItsOwner(t *testing.T) {
	w := newJWTWorld()
	alice := userToken("alice")
	status, out := w.call(t, alice, "DELETE /devices/{deviceId}", map[string]string{"deviceId": "no-such-device"}, "", nil)
	assert.Equal(t, 404, status)
	code, _, msg := problem(t, out)
	assert.Equal(t, CodeNotFound, code)
	assert.Equal(t, "device no-such-device: no such device", msg)

	status, out = w.call(t, alice, "DELETE /devices/{deviceId}", map[string]string{"deviceId": "bad/id"}, "", nil)
	assert.Equal(t, 400, status)
	code, field, _ := problem(t, out)
	assert.Equal(t, CodeInvalidDevice, code)
	assert.Equal(t, "deviceId", field)

	_, out = w.call(t, userToken("bob"), "POST /devices", nil, `{"userId":"bob","token":"bob-phone"}`, nil)
	bobs := out["deviceId"].(string)
	w.owners.retired[bobs] = true // unregistered meanwhile: its owner row is a tombstone
	status, _ = w.call(t, alice, "DELETE /devices/{deviceId}", map[string]string{"deviceId": bobs}, "", nil)
	assert.Equal(t, 404, status)
	delete(w.owners.retired, bobs)

	w.owners.deviceErr = &smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}
	status, _ = w.call(t, alice, "DELETE /devices/{deviceId}", map[string]string{"deviceId": bobs}, "", nil)
	assert.Equal(t, 503, status)
	w.owners.deviceErr = nil
	assert.Equal(t, "bob", w.devs.byID[bobs].UserID)

	w.h.Owners = nil // not configured: a user cannot remove by id, a backend still can
	status, _ = w.call(t, userToken("bob"), "DELETE /devices/{deviceId}", map[string]string{"deviceId": bobs}, "", nil)
	assert.Equal(t, 500, status)
	status, _ = w.call(t, iamBackend(), "DELETE /devices/{deviceId}", map[string]string{"deviceId": bobs}, "", nil)
	assert.Equal(t, 200, status)
}

// Claims that are not strings (an event API Gateway did not write) are read as API Gateway
// writes them, then the same rules apply.
func TestHandleJSONReadsClaimsOfAnyType(t *testing.T) {
	w := newJWTWorld()
	event := func(route, userID string, claims, scopes string) json.RawMessage {
		return json.RawMessage(`{"version":"2.0","routeKey":"` + route + `","rawPath":"/users/x/devices","pathParameters":{"userId":` + jsonString(userID) + `},
			"requestContext":{"requestId":"r","http":{"method":"GET"},"authorizer":{"jwt":{"claims":` + claims + `,"scopes":` + scopes + `}}}}`)
	}
	for name, c := range map[string]struct {
		claims, scopes, user string
		status               int
		contains             string
	}{
		"a number sub is its text":     {`{"sub":42}`, `null`, "42", 200, ""},
		"a list sub is a list":         {`{"sub":["alice","bob"]}`, `null`, "alice", 403, `is a list ("[alice bob]"), not one id`},
		"an object sub":                {`{"sub":{"id":"alice"}}`, `null`, "alice", 403, `is an object, not one id`},
		"a null sub is missing":        {`{"sub":null}`, `null`, "alice", 403, `"sub" claim is missing`},
		"a boolean sub is its text":    {`{"sub":true}`, `null`, "true", 200, ""},
		"a scope list grants":          {`{"sub":"svc","scope":["delayed-push/backend"]}`, `null`, "bob", 200, ""},
		"scopes not a list":            {`{"sub":"alice"}`, `"delayed-push/backend"`, "bob", 403, `the token's user is "alice", the request is for "bob"`},
		"scopes not strings":           {`{"sub":"alice"}`, `[1,"delayed-push/backend"]`, "bob", 403, `the request is for "bob"`},
		"claims not an object":         {`"sub=alice"`, `null`, "alice", 403, `"sub" claim is missing`},
		"strings as API Gateway sends": {`{"sub":"alice","exp":"1796115600"}`, `null`, "alice", 200, ""},
	} {
		resp, err := w.h.HandleJSON(context.Background(), event("GET /users/{userId}/devices", c.user, c.claims, c.scopes))
		require.NoError(t, err, name)
		assert.Equal(t, c.status, resp.StatusCode, "%s: %s", name, resp.Body)
		assert.Contains(t, resp.Body, strings.ReplaceAll(c.contains, `"`, `\"`), name)
	}
	_, err := w.h.HandleJSON(context.Background(), json.RawMessage(`{"version":"2.0","routeKey":7}`))
	assert.ErrorContains(t, err, "not an API Gateway payload 2.0 event")
}

func TestClaimTextIsAPIGatewaysWireFormat(t *testing.T) {
	var v any
	for raw, want := range map[string]string{
		`"a b"`: "a b", `42`: "42", `1.5e3`: "1.5e3", `true`: "true", `["a","b"]`: "[a b]", `[1,["x"]]`: "[1 [x]]",
		`{"b":1,"a":"x"}`: `{"a":"x","b":1}`, `[]`: "[]",
	} {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&v))
		assert.Equal(t, want, ClaimText(v), raw)
	}
}

func TestValidateUserClaimAndScope(t *testing.T) {
	for _, ok := range []string{"sub", "email", "cognito:username", "https://example.com/user_id", "oid"} {
		assert.NoError(t, ValidateUserClaim(ok), ok)
	}
	for bad, want := range map[string]string{
		"": "is empty", "aud": `"aud" does not name one user`, "client_id": "does not name one user", "scope": "does not name one user",
		"jti": "does not name one user", "user id": "without spaces or control characters", "sub\n": "without spaces",
		strings.Repeat("c", 257): "at most 256",
	} {
		assert.ErrorContains(t, ValidateUserClaim(bad), want, bad)
	}
	for _, ok := range []string{"delayed-push/backend", "push:admin", "https://api.example.com/push.write"} {
		assert.NoError(t, ValidateScope(ok), ok)
	}
	for _, bad := range []string{"", "two words", "[admin]", `q"uote`, "back\\slash", "tab\t", "ünïcode", strings.Repeat("s", 257)} {
		assert.Error(t, ValidateScope(bad), bad)
	}
}

// Whatever a user token's claim and the path hold, a user's device routes succeed only for
// the token's own user, and never fail with a 5xx.
func FuzzUserAuthorization(f *testing.F) {
	for _, s := range [][2]string{{"alice", "alice"}, {"alice", "Alice"}, {"[a b]", "a"}, {"", ""}, {"a\x00", "a"}, {"al%69ce", "alice"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, sub, pathUser string) {
		w := newJWTWorld()
		for _, route := range []string{"GET /users/{userId}/devices", "DELETE /users/{userId}/devices"} {
			resp, err := w.h.Handle(context.Background(), events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: route,
				PathParameters: map[string]string{"userId": pathUser},
				RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: token(map[string]string{"sub": sub})}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode >= 500 || !json.Valid([]byte(resp.Body)) {
				t.Fatalf("%s sub %q path %q: %d %s", route, sub, pathUser, resp.StatusCode, resp.Body)
			}
			if resp.StatusCode == 200 && sub != pathUser {
				t.Fatalf("%s: the token of %q acted for %q", route, sub, pathUser)
			}
		}
	})
}
