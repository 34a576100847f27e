// Package httpapi is the HTTP API's Lambda handler: API Gateway HTTP API events (payload
// format 2.0) in, JSON out, every route a thin layer over the Go client, so that the same
// input gets the same answer as from the client, pushctl and the state machine. Routes and
// bodies are documented in docs/openapi.json (a test keeps the two equal). Who may call which
// route is decided in auth.go: backends everything, a user of the app (JWT) their own devices.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/internal/requestbody"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
	"github.com/delayed-push/delayed-push/schedule"
)

// Pushes is the part of the client the API uses (a *client.Client).
type Pushes interface {
	Schedule(ctx context.Context, r client.Request) (client.Scheduled, error)
	Get(ctx context.Context, key string) (client.Status, error)
	Cancel(ctx context.Context, key string) (client.Status, error)
	Reschedule(ctx context.Context, key string, ch client.Change) (client.Scheduled, error)
	List(ctx context.Context, o client.ListOptions) (client.Page, error)
}

// Devices is the part of the client the device routes use (a *client.Client).
type Devices interface {
	RegisterDevice(ctx context.Context, r devices.Registration) (devices.Result, error)
	Devices(ctx context.Context, userID string) ([]devices.Device, error)
	UnregisterDevice(ctx context.Context, deviceID string) (devices.Device, error)
	UnregisterDevices(ctx context.Context, userID string) ([]devices.Device, error)
}

// Preferences is the part of the client the preferences routes use (a *client.Client).
type Preferences interface {
	SetPreferences(ctx context.Context, userID string, r client.PreferencesRequest) (recipient.Preferences, error)
	Preferences(ctx context.Context, userID string) (recipient.Preferences, bool, error)
	// DefaultTimeZone is the zone of a user who has none.
	DefaultTimeZone() string
}

// Routes are the route keys the API serves, as API Gateway writes them.
var Routes = []string{"POST /pushes", "GET /pushes", "GET /pushes/{key}", "PUT /pushes/{key}", "DELETE /pushes/{key}",
	"POST /devices", "DELETE /devices/{deviceId}", "GET /users/{userId}/devices", "DELETE /users/{userId}/devices",
	"GET /users/{userId}/preferences", "PUT /users/{userId}/preferences"}

// Defaults.
const (
	// DefaultDelay is the wait of a POST without a time: two hours, as in the producer API of
	// one of the four Korean blog articles the project grew from.
	DefaultDelay        = 2 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
)

// Error codes: stable, for programs; the message is for people.
const (
	CodeInvalidRequest   = requestbody.CodeInvalidRequest   // 400: the body is not the JSON object the route takes
	CodeInvalidPush      = "invalid_push"                   // 400: a field of the push or the schedule, named in "field"
	CodeInvalidDevice    = "invalid_device"                 // 400: a field of the device registration, named in "field"
	CodeInvalidPrefs     = "invalid_preferences"            // 400: a field of the preferences, named in "field"
	CodeNotFound         = "not_found"                      // 404: no push with this key, no device with this id
	CodeRouteNotFound    = "route_not_found"                // 404: no such route
	CodeConflict         = "conflict"                       // 409: the key holds another push; other registrations of the token are changing it
	CodeTooLate          = "too_late"                       // 409: the push is being sent or was sent
	CodeCancelled        = "cancelled"                      // 409: the push was cancelled
	CodePayloadTooLarge  = requestbody.CodePayloadTooLarge  // 413
	CodeUnsupportedMedia = requestbody.CodeUnsupportedMedia // 415: a body not sent as Content-Type application/json
	CodeUnavailable      = "unavailable"                    // 503: AWS throttled or failed; retry
	CodeInternal         = "internal"                       // 500
	headerContentType    = "application/json"
	maxKeyQueryLimitText = "1..1000"
)

// Handler serves the API.
type Handler struct {
	Pushes       Pushes
	Devices      Devices
	Preferences  Preferences
	DefaultDelay time.Duration // a POST without delaySeconds or sendAt; 0 means DefaultDelay
	MaxBodyBytes int           // 0 means DefaultMaxBodyBytes
	Logger       *slog.Logger
	// UserClaim is the JWT claim holding a user's id ("" means DefaultUserClaim), and
	// BackendScope the scope that makes a JWT caller a backend ("" means DefaultBackendScope).
	UserClaim    string
	BackendScope string
	// Owners reads who owns a device and records who created a push. Nil: pushes record no
	// owner, and a user cannot remove a device by id (a backend can).
	Owners Owners
}

// Problem is the body of every error answer.
type Problem struct {
	Error ProblemDetail `json:"error"`
}

// ProblemDetail says what was wrong.
type ProblemDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

type answer struct {
	status int
	body   any
}

func fail(status int, code, field, format string, args ...any) answer {
	return answer{status, Problem{ProblemDetail{Code: code, Message: fmt.Sprintf(format, args...), Field: field}}}
}

// Handle answers one request. It never returns an error: every failure is an HTTP answer.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	a := h.route(ctx, req)
	body, err := json.Marshal(a.body)
	if err != nil {
		a = fail(http.StatusInternalServerError, CodeInternal, "", "the answer could not be written")
		body, _ = json.Marshal(a.body)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: a.status,
		Headers:    map[string]string{"content-type": headerContentType, "cache-control": "no-store"},
		Body:       string(body),
	}, nil
}

func (h *Handler) route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (a answer) {
	defer func() {
		if p := recover(); p != nil {
			h.logger().ErrorContext(ctx, "api panic", "routeKey", req.RouteKey, "panic", fmt.Sprint(p))
			a = fail(http.StatusInternalServerError, CodeInternal, "", "internal error")
		}
	}()
	rule, known := RouteAuthorization[req.RouteKey]
	if !known {
		return fail(http.StatusNotFound, CodeRouteNotFound, "", "no route %s %s", req.RequestContext.HTTP.Method, req.RawPath)
	}
	c, bad := h.authorize(req, rule)
	if bad != nil {
		return h.refused(ctx, req, c, bad)
	}
	key := req.PathParameters["key"]
	switch req.RouteKey {
	case "POST /pushes":
		return h.schedule(ctx, req, c)
	case "GET /pushes":
		return h.list(ctx, req)
	case "GET /pushes/{key}":
		st, err := h.Pushes.Get(ctx, key)
		return h.result(ctx, req, http.StatusOK, st, err)
	case "PUT /pushes/{key}":
		return h.reschedule(ctx, req, key)
	case "DELETE /pushes/{key}":
		st, err := h.Pushes.Cancel(ctx, key)
		return h.result(ctx, req, http.StatusOK, st, err)
	case "POST /devices":
		return h.registerDevice(ctx, req, c)
	case "DELETE /devices/{deviceId}":
		id := req.PathParameters["deviceId"]
		if bad := h.ownDevice(ctx, req, c, id); bad != nil {
			return h.refused(ctx, req, c, bad)
		}
		d, err := h.Devices.UnregisterDevice(ctx, id)
		return h.result(ctx, req, http.StatusOK, d, err)
	case "GET /users/{userId}/devices":
		user := req.PathParameters["userId"]
		if bad := c.mayActFor(user); bad != nil {
			return h.refused(ctx, req, c, bad)
		}
		list, err := h.Devices.Devices(ctx, user)
		return h.result(ctx, req, http.StatusOK, DeviceList{UserID: user, Devices: nonNil(list)}, err)
	case "DELETE /users/{userId}/devices":
		user := req.PathParameters["userId"]
		if bad := c.mayActFor(user); bad != nil {
			return h.refused(ctx, req, c, bad)
		}
		list, err := h.Devices.UnregisterDevices(ctx, user)
		return h.result(ctx, req, http.StatusOK, DeviceList{UserID: user, Devices: nonNil(list)}, err)
	case "GET /users/{userId}/preferences", "PUT /users/{userId}/preferences":
		user := req.PathParameters["userId"]
		if bad := c.mayActFor(user); bad != nil {
			return h.refused(ctx, req, c, bad)
		}
		if h.Preferences == nil {
			h.logger().ErrorContext(ctx, "api misconfigured: no Preferences", "routeKey", req.RouteKey)
			return fail(http.StatusInternalServerError, CodeInternal, "", "internal error (request %s)", req.RequestContext.RequestID)
		}
		if req.RouteKey == "PUT /users/{userId}/preferences" {
			return h.setPreferences(ctx, req, user)
		}
		p, _, err := h.Preferences.Preferences(ctx, user)
		return h.result(ctx, req, http.StatusOK, client.UserPreferencesOf(user, p, h.Preferences.DefaultTimeZone()), err)
	}
	// A route of RouteAuthorization without a case: a programming error, caught by the tests.
	return fail(http.StatusInternalServerError, CodeInternal, "", "route %s has no handler", req.RouteKey)
}

// object reads the request body (within the size limit, decoded from base64 if need be,
// declared JSON: requestbody.ReadJSON) as a JSON object into the route's members, rejecting
// unknown fields.
func (h *Handler) object(req events.APIGatewayV2HTTPRequest, known map[string]*json.RawMessage) *answer {
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	b, refused := requestbody.ReadJSON(req, limit)
	if refused != nil {
		a := fail(refused.Status, refused.Code, "", "%s", refused.Message)
		return &a
	}
	if len(bytes.TrimSpace(b)) == 0 {
		a := fail(http.StatusBadRequest, CodeInvalidRequest, "", "the body is empty: send a JSON object")
		return &a
	}
	obj, err := jsonfield.DecodeObject(b)
	if err != nil {
		a := fail(http.StatusBadRequest, CodeInvalidRequest, "", "the body is not a JSON object: %v", err)
		return &a
	}
	for _, name := range obj.Keys {
		dst, ok := known[name]
		if !ok {
			a := fail(http.StatusBadRequest, CodeInvalidRequest, name, "unknown field %s", jsonfield.Quote(name))
			return &a
		}
		*dst = obj.Members[name]
	}
	return nil
}

// when reads delaySeconds or sendAt (checked again by the client, in the state machine's words).
func when(rawDelay, rawSendAt json.RawMessage) (time.Duration, time.Time, bool, *answer) {
	bad := func(field, format string, args ...any) (time.Duration, time.Time, bool, *answer) {
		a := fail(http.StatusBadRequest, CodeInvalidPush, field, "invalid %s: %s", field, fmt.Sprintf(format, args...))
		return 0, time.Time{}, false, &a
	}
	switch {
	case rawDelay != nil && rawSendAt != nil:
		return bad("sendAt", "both delaySeconds and sendAt given: exactly one is allowed")
	case rawDelay != nil:
		d, ok := jsonfield.Integer(rawDelay)
		if !ok {
			return bad("delaySeconds", "must be an integer")
		}
		if d < 0 || d > schedule.MaxDelaySeconds {
			return bad("delaySeconds", "must be 0..%d (365 days less an hour), got %d", schedule.MaxDelaySeconds, d)
		}
		return time.Duration(d) * time.Second, time.Time{}, true, nil
	case rawSendAt != nil:
		s, err := jsonfield.String(rawSendAt)
		if err != nil {
			return bad("sendAt", "%v", err)
		}
		t, ok := jsonfield.ParseTime(s)
		if !ok {
			return bad("sendAt", "is not an RFC 3339 time: %s", jsonfield.Quote(s))
		}
		return 0, t, true, nil
	}
	return 0, time.Time{}, false, nil
}

// localTimeOf reads localTime: absent is none; otherwise a string (checked by the client,
// in recipient's words), and not with delaySeconds or sendAt (given).
func localTimeOf(raw json.RawMessage, given bool) (string, *answer) {
	if raw == nil {
		return "", nil
	}
	bad := func(format string, args ...any) (string, *answer) {
		a := fail(http.StatusBadRequest, CodeInvalidPush, recipient.FieldLocalTime, "invalid localTime: "+format, args...)
		return "", &a
	}
	var s string
	if string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
		return bad("must be a string, a wall-clock time like \"2026-12-24T09:00\"")
	}
	if given {
		return bad("given with delaySeconds or sendAt: exactly one is allowed")
	}
	if _, err := recipient.ParseLocalTime(s); err != nil {
		var ie *recipient.InvalidError
		errors.As(err, &ie)
		return bad("%s", ie.Reason)
	}
	return s, nil
}

// engineOf reads engine: absent, null or "" is the stack's engine (as in the client and
// pushctl); otherwise "stepfunctions" or "economy", refused in the client's words.
func engineOf(raw json.RawMessage) (string, *answer) {
	if raw == nil || string(raw) == "null" || string(raw) == `""` {
		return "", nil
	}
	var e string
	if json.Unmarshal(raw, &e) != nil {
		e = string(raw) // not a string: quoted as sent
		a := fail(http.StatusBadRequest, CodeInvalidPush, "engine", `invalid engine: must be "stepfunctions" or "economy", got %s`, e)
		return "", &a
	}
	var ie *push.InvalidError
	if errors.As(client.ValidateEngine(e), &ie) {
		a := fail(http.StatusBadRequest, CodeInvalidPush, ie.Field, "%s", ie.Error())
		return "", &a
	}
	return e, nil
}

func pushOf(raw json.RawMessage) (push.Push, *answer) {
	if raw == nil || string(raw) == "null" {
		a := fail(http.StatusBadRequest, CodeInvalidPush, "push", "invalid push: is required")
		return push.Push{}, &a
	}
	p, err := push.Decode(raw)
	if err != nil {
		var ie *push.InvalidError
		if errors.As(schedule.InPush(err), &ie) {
			a := fail(http.StatusBadRequest, CodeInvalidPush, ie.Field, "%s", ie.Error())
			return push.Push{}, &a
		}
		a := fail(http.StatusBadRequest, CodeInvalidPush, "push", "invalid push: %s", err.Error())
		return push.Push{}, &a
	}
	return p, nil
}

func (h *Handler) schedule(ctx context.Context, req events.APIGatewayV2HTTPRequest, c caller) answer {
	var rawKey, rawPush, rawDelay, rawSendAt, rawEngine, rawLocal json.RawMessage
	if bad := h.object(req, map[string]*json.RawMessage{"key": &rawKey, "push": &rawPush, "delaySeconds": &rawDelay, "sendAt": &rawSendAt,
		"engine": &rawEngine, "localTime": &rawLocal}); bad != nil {
		return *bad
	}
	var key string
	if rawKey == nil || json.Unmarshal(rawKey, &key) != nil || string(rawKey) == "null" {
		return fail(http.StatusBadRequest, CodeInvalidPush, "key", "invalid key: is required, a string (it names the push and makes a retry safe)")
	}
	delay, at, given, bad := when(rawDelay, rawSendAt)
	if bad != nil {
		return *bad
	}
	local, bad := localTimeOf(rawLocal, given)
	if bad != nil {
		return *bad
	}
	if !given && local == "" {
		delay = h.DefaultDelay
		if delay <= 0 {
			delay = DefaultDelay
		}
	}
	engine, bad := engineOf(rawEngine)
	if bad != nil {
		return *bad
	}
	p, bad := pushOf(rawPush)
	if bad != nil {
		return *bad
	}
	s, err := h.Pushes.Schedule(ctx, client.Request{Key: key, Push: p, Delay: delay, At: at, Engine: engine, LocalTime: local})
	if err == nil {
		// Also when already scheduled: the first creator stays the owner, and a retry after a
		// failed record writes it then.
		if bad := h.recordOwner(ctx, req, c, key); bad != nil {
			return *bad
		}
	}
	status := http.StatusCreated
	if s.AlreadyScheduled {
		status = http.StatusOK
	}
	return h.result(ctx, req, status, s, err)
}

func (h *Handler) reschedule(ctx context.Context, req events.APIGatewayV2HTTPRequest, key string) answer {
	var rawPush, rawDelay, rawSendAt, rawNow, rawEngine, rawLocal json.RawMessage
	if bad := h.object(req, map[string]*json.RawMessage{"push": &rawPush, "delaySeconds": &rawDelay, "sendAt": &rawSendAt, "now": &rawNow,
		"engine": &rawEngine, "localTime": &rawLocal}); bad != nil {
		return *bad
	}
	var ch client.Change
	if rawNow != nil {
		if string(rawNow) != "true" && string(rawNow) != "false" {
			return fail(http.StatusBadRequest, CodeInvalidPush, "now", "invalid now: must be true or false")
		}
		if rawDelay != nil || rawSendAt != nil || rawLocal != nil {
			return fail(http.StatusBadRequest, CodeInvalidPush, "now", "invalid now: give one of now, delaySeconds, sendAt and localTime")
		}
		ch.Now = string(rawNow) == "true"
	}
	delay, at, given, bad := when(rawDelay, rawSendAt)
	if bad != nil {
		return *bad
	}
	ch.Delay, ch.At = delay, at
	if given && delay == 0 && at.IsZero() {
		ch.Now = true
	}
	if ch.LocalTime, bad = localTimeOf(rawLocal, given); bad != nil {
		return *bad
	}
	if ch.Engine, bad = engineOf(rawEngine); bad != nil {
		return *bad
	}
	if rawPush != nil {
		p, bad := pushOf(rawPush)
		if bad != nil {
			return *bad
		}
		ch.Push = &p
	}
	if !given && !ch.Now && ch.LocalTime == "" && ch.Push == nil && ch.Engine == "" {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "", "nothing to change: give delaySeconds, sendAt, localTime or now, and/or push, and/or engine")
	}
	s, err := h.Pushes.Reschedule(ctx, key, ch)
	return h.result(ctx, req, http.StatusOK, s, err)
}

func (h *Handler) list(ctx context.Context, req events.APIGatewayV2HTTPRequest) answer {
	q := req.QueryStringParameters
	for name := range q {
		switch name {
		case "userId", "limit", "pageToken":
		default:
			return fail(http.StatusBadRequest, CodeInvalidRequest, name, "unknown query parameter %s", jsonfield.Quote(name))
		}
	}
	opts := client.ListOptions{UserID: q["userId"], PageToken: q["pageToken"]}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fail(http.StatusBadRequest, CodeInvalidRequest, "limit", "invalid limit: must be a whole number %s, got %s", maxKeyQueryLimitText, jsonfield.Quote(v))
		}
		if n < 1 {
			return fail(http.StatusBadRequest, CodeInvalidRequest, "limit", "invalid limit: must be %s, got %d", maxKeyQueryLimitText, n)
		}
		opts.Limit = n
	}
	page, err := h.Pushes.List(ctx, opts)
	var ie *push.InvalidError
	if errors.As(err, &ie) { // limit or pageToken: the query is wrong, not a push
		return fail(http.StatusBadRequest, CodeInvalidRequest, ie.Field, "%s", ie.Error())
	}
	return h.result(ctx, req, http.StatusOK, page, err)
}

// DeviceList is the answer of the user devices routes (the removed ones for DELETE).
type DeviceList struct {
	UserID  string           `json:"userId"`
	Devices []devices.Device `json:"devices"`
}

func nonNil(l []devices.Device) []devices.Device {
	if l == nil {
		return []devices.Device{}
	}
	return l
}

func (h *Handler) registerDevice(ctx context.Context, req events.APIGatewayV2HTTPRequest, c caller) answer {
	var raw = map[string]*json.RawMessage{}
	var userID, token, platform, deviceID, timeZone json.RawMessage
	raw["userId"], raw["token"], raw["platform"], raw["deviceId"], raw["timeZone"] = &userID, &token, &platform, &deviceID, &timeZone
	if bad := h.object(req, raw); bad != nil {
		return *bad
	}
	var r devices.Registration
	for name, dst := range map[string]*string{"userId": &r.UserID, "token": &r.Token, "platform": &r.Platform, "deviceId": &r.DeviceID,
		"timeZone": &r.TimeZone} {
		v := *raw[name]
		if v != nil && (string(v) == "null" || json.Unmarshal(v, dst) != nil) {
			return fail(http.StatusBadRequest, CodeInvalidDevice, name, "invalid %s: must be a string", name)
		}
	}
	if _, err := devices.Validate(r); err != nil {
		return h.result(ctx, req, 0, nil, err) // a bad body is a 400 whoever sends it
	}
	// A deviceId of another user's device needs no check: the registry then goes by the token
	// (a device id only chooses among the user's own devices).
	if bad := c.mayActFor(r.UserID); bad != nil {
		return h.refused(ctx, req, c, bad)
	}
	res, err := h.Devices.RegisterDevice(ctx, r)
	status := http.StatusOK
	switch res.Outcome {
	case devices.Registered, devices.Moved, devices.Recreated:
		status = http.StatusCreated // a new device id
	}
	return h.result(ctx, req, status, res, err)
}

// result turns a client answer into an HTTP one.
func (h *Handler) result(ctx context.Context, req events.APIGatewayV2HTTPRequest, status int, v any, err error) answer {
	if err == nil {
		return answer{status, v}
	}
	var ie *push.InvalidError
	var de *devices.InvalidError
	var re *recipient.InvalidError
	var ae smithy.APIError
	switch {
	case errors.As(err, &ie):
		return fail(http.StatusBadRequest, CodeInvalidPush, ie.Field, "%s", ie.Error())
	case errors.As(err, &re):
		return fail(http.StatusBadRequest, CodeInvalidPrefs, re.Field, "%s", re.Error())
	case errors.As(err, &de):
		return fail(http.StatusBadRequest, CodeInvalidDevice, de.Field, "%s", de.Error())
	case errors.Is(err, devices.ErrNotFound):
		return fail(http.StatusNotFound, CodeNotFound, "", "%s", err.Error())
	case errors.Is(err, devices.ErrBusy):
		return fail(http.StatusConflict, CodeConflict, "", "%s", err.Error())
	case errors.Is(err, client.ErrNotFound):
		return fail(http.StatusNotFound, CodeNotFound, "", "%s", err.Error())
	case errors.Is(err, client.ErrConflict):
		return fail(http.StatusConflict, CodeConflict, "", "%s", err.Error())
	case errors.Is(err, client.ErrTooLate):
		return fail(http.StatusConflict, CodeTooLate, "", "%s", err.Error())
	case errors.Is(err, client.ErrCancelled):
		return fail(http.StatusConflict, CodeCancelled, "", "%s", err.Error())
	case !errors.As(err, &ae) || ae.ErrorFault() == smithy.FaultServer || isThrottle(ae.ErrorCode()):
		// Throttled, a server error, or no answer at all (the network): a retry may succeed.
		h.logger().WarnContext(ctx, "AWS unavailable", "routeKey", req.RouteKey, "requestId", req.RequestContext.RequestID, "error", err.Error())
		return fail(http.StatusServiceUnavailable, CodeUnavailable, "", "the service is busy or unavailable; retry the same request")
	}
	h.logger().ErrorContext(ctx, "request failed", "routeKey", req.RouteKey, "requestId", req.RequestContext.RequestID, "error", err.Error())
	return fail(http.StatusInternalServerError, CodeInternal, "", "internal error (request %s)", req.RequestContext.RequestID)
}

func isThrottle(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "ProvisionedThroughputExceededException":
		return true
	}
	return false
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
