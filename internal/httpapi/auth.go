package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
)

// Authorization (issue #18). API Gateway lets a request through once IAM or the JWT authorizer
// accepts it; what the caller may then do is decided here, from what that authorizer passed on
// in requestContext.authorizer:
//   - an IAM caller is a backend: IAM policies decided who may call, and a backend may do
//     everything the Go client does, for any user;
//   - a JWT caller whose token holds the backend scope is a backend too;
//   - any other JWT caller is a user of the app, whose id is the token's user claim: a user may
//     register, list and remove their own devices, and nothing else. Without this, any token
//     the issuer gives any user of the app would act for every user: register a phone on
//     someone else's pushes, read, move or cancel their pushes, wipe their devices.
//
// Every refusal is 403 forbidden and is decided before anything is written.

// The rules of a route, as docs/openapi.json states them (x-delayed-push-authorization).
const (
	AuthBackend = "backend" // backends only: IAM, or a token with the backend scope
	AuthOwnUser = "user"    // a backend, or a user for their own devices
)

// RouteAuthorization is the rule of each route the handler serves.
var RouteAuthorization = map[string]string{
	"POST /pushes": AuthBackend, "GET /pushes": AuthBackend, "GET /pushes/{key}": AuthBackend,
	"PUT /pushes/{key}": AuthBackend, "DELETE /pushes/{key}": AuthBackend,
	"POST /devices": AuthOwnUser, "DELETE /devices/{deviceId}": AuthOwnUser,
	"GET /users/{userId}/devices": AuthOwnUser, "DELETE /users/{userId}/devices": AuthOwnUser,
	"GET /users/{userId}/preferences": AuthOwnUser, "PUT /users/{userId}/preferences": AuthOwnUser,
}

// Defaults of the JWT rules.
const (
	DefaultUserClaim    = "sub"
	DefaultBackendScope = "delayed-push/backend"
	// OwnerClaim names a backend token's principal, recorded as the owner of its pushes.
	OwnerClaim = "sub"
)

// CodeForbidden is the error code of every refusal (403): the message says what was missing.
const CodeForbidden = "forbidden"

// Owners is what the rules read and write beside the client (apiapp: DynamoDB).
type Owners interface {
	// DeviceOwner is the user who owns a device; found is false for an unknown device and
	// for one unregistered or moved (its owner row is retired).
	DeviceOwner(ctx context.Context, deviceID string) (userID string, found bool, err error)
	// RecordPushOwner writes owner on the schedules row of key, unless the row has one: the
	// principal that created a push stays its owner.
	RecordPushOwner(ctx context.Context, key, owner string) error
}

// caller is who sent a request, as the authorizer that let it through described it.
type caller struct {
	backend bool
	// principal names a backend: "iam:" and the caller's ARN, or "jwt:" and the token's sub.
	principal string
	// user is a user caller's id, from the token's user claim.
	user string
}

func (c caller) String() string {
	if c.backend {
		return c.principal
	}
	if c.user != "" {
		return "user:" + c.user
	}
	return "unknown"
}

// registeredClaims are JWT claims that name no user: the same for every user of an issuer or
// an app (iss, aud, azp, client_id, scope, ...), or for no one twice (jti) or times. A user
// claim set to one of them would make every user one user, or no user ever the same.
var registeredClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "client_id", "azp", "token_use", "auth_time", "cid"}

// ValidateUserClaim checks the name of the user claim (configuration).
func ValidateUserClaim(name string) error {
	switch {
	case name == "":
		return errors.New("is empty: name the claim that holds the user id (sub by default)")
	case len(name) > 256:
		return fmt.Errorf("is %d bytes, at most 256", len(name))
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%s must be a claim name without spaces or control characters", jsonfield.Quote(name))
	}
	for _, c := range registeredClaims {
		if name == c {
			return fmt.Errorf("%s does not name one user: it is the same for many users, or never twice the same", jsonfield.Quote(name))
		}
	}
	return nil
}

// ValidateScope checks the backend scope (configuration): an OAuth scope token (RFC 6749,
// 3.3: printable ASCII without space, " and \), and without [ and ], which API Gateway uses
// to write a list claim as a string.
func ValidateScope(scope string) error {
	if scope == "" || len(scope) > 256 {
		return fmt.Errorf("must be 1 to 256 characters, got %d", len(scope))
	}
	for _, r := range scope {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' || r == '[' || r == ']' {
			return fmt.Errorf("%s must be an OAuth scope: printable ASCII without spaces, quotes, backslashes or brackets", jsonfield.Quote(scope))
		}
	}
	return nil
}

func (h *Handler) userClaim() string {
	if h.UserClaim != "" {
		return h.UserClaim
	}
	return DefaultUserClaim
}

func (h *Handler) backendScope() string {
	if h.BackendScope != "" {
		return h.BackendScope
	}
	return DefaultBackendScope
}

func forbidden(format string, args ...any) *answer {
	a := fail(http.StatusForbidden, CodeForbidden, "", format, args...)
	return &a
}

// authorize finds the caller and refuses one the route's rule does not allow at all; the
// device routes check the user a request is for themselves, once they have read it.
func (h *Handler) authorize(req events.APIGatewayV2HTTPRequest, rule string) (caller, *answer) {
	c, bad := h.callerOf(req)
	if bad != nil {
		return c, bad
	}
	if rule == AuthBackend && !c.backend {
		return c, forbidden("%s is for backends (IAM authorization, or a token with the scope %s): the token of user %s does not have that scope",
			req.RouteKey, jsonfield.Quote(h.backendScope()), shown(c.user))
	}
	return c, nil
}

// callerOf reads who sent the request from the authorizer's part of the event. A request that
// no authorizer let through is refused: every route has one, so such an event did not come
// through the API's routes as configured.
func (h *Handler) callerOf(req events.APIGatewayV2HTTPRequest) (caller, *answer) {
	a := req.RequestContext.Authorizer
	switch {
	case a != nil && a.JWT != nil:
		return h.jwtCaller(a.JWT)
	case a != nil && a.IAM != nil:
		for _, id := range []string{a.IAM.UserARN, a.IAM.CallerID, a.IAM.AccessKey} {
			if id != "" {
				return caller{backend: true, principal: "iam:" + id}, nil
			}
		}
		return caller{}, forbidden("IAM authorization named no caller")
	}
	return caller{}, forbidden("no authorizer let the request through: every route needs IAM authorization or a token of the JWT authorizer")
}

func (h *Handler) jwtCaller(jwt *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription) (caller, *answer) {
	if hasScope(jwt, h.backendScope()) {
		sub, why := claim(jwt.Claims, OwnerClaim)
		if why != "" {
			return caller{}, forbidden("the token has the backend scope %s, but its %s claim %s: it names the backend, and the owner of the pushes it creates",
				jsonfield.Quote(h.backendScope()), OwnerClaim, why)
		}
		return caller{backend: true, principal: "jwt:" + sub}, nil
	}
	name := h.userClaim()
	user, why := claim(jwt.Claims, name)
	if why != "" {
		return caller{}, forbidden("the token's %s claim %s: the API takes the caller's user id from it", jsonfield.Quote(name), why)
	}
	return caller{user: user}, nil
}

// claim reads a claim that names one principal. API Gateway passes every claim as a string,
// a list as "[a b]" and an object as its JSON (HandleJSON reads other events the same way):
// neither is one id. The id must be a valid user id, as the registry requires.
func claim(claims map[string]string, name string) (string, string) {
	v, ok := claims[name]
	switch {
	case !ok:
		return "", "is missing"
	case v == "":
		return "", "is empty"
	case listClaim(v):
		return "", "is a list (" + shown(v) + "), not one id"
	case strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}"):
		return "", "is an object, not one id"
	}
	if err := devices.ValidateUserID(v); err != nil {
		return "", "is not a user id (" + shown(v) + "): " + errorReasonOf(err)
	}
	return v, ""
}

func listClaim(v string) bool { return strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") }

// hasScope tells whether the token holds scope: in the authorizer's list (set when a route
// requires scopes), or in the scope or scp claim, OAuth's space-separated string or a list
// (API Gateway writes a list as "[a b]"). Scopes are compared whole and in their case, split
// on spaces only (RFC 6749, 3.3): "x\u00a0delayed-push/backend" is one scope, not two.
func hasScope(jwt *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, scope string) bool {
	all := append([]string{}, jwt.Scopes...)
	for _, name := range []string{"scope", "scp"} {
		v := jwt.Claims[name]
		if listClaim(v) {
			v = v[1 : len(v)-1]
		}
		all = append(all, strings.Split(v, " ")...)
	}
	for _, s := range all {
		if s == scope {
			return true
		}
	}
	return false
}

// mayActFor refuses a user caller a request for another user. The ids are compared as they
// are, byte for byte: the path's userId is what API Gateway decoded, the very value the
// registry is then asked about, so an id that differs in case or encoding is another user.
func (c caller) mayActFor(userID string) *answer {
	if c.backend || userID == c.user {
		return nil
	}
	return forbidden("the token's user is %s, the request is for %s", shown(c.user), shown(userID))
}

// ownDevice refuses a user caller the removal of a device that is not theirs. A device id's
// owner never changes (a token that moves to another user gets a new device id; an
// unregistered device's owner row stays, retired), so what is read here stays true until the
// registry removes the device.
func (h *Handler) ownDevice(ctx context.Context, req events.APIGatewayV2HTTPRequest, c caller, id string) *answer {
	if c.backend {
		return nil
	}
	if err := devices.ValidateDeviceID(id); err != nil {
		a := h.result(ctx, req, 0, nil, err)
		return &a
	}
	if h.Owners == nil {
		h.logger().ErrorContext(ctx, "api misconfigured: no Owners, a user cannot remove a device by id", "routeKey", req.RouteKey)
		a := fail(http.StatusInternalServerError, CodeInternal, "", "internal error (request %s)", req.RequestContext.RequestID)
		return &a
	}
	owner, found, err := h.Owners.DeviceOwner(ctx, id)
	if err == nil && !found {
		err = fmt.Errorf("device %s: %w", id, devices.ErrNotFound)
	}
	if err != nil {
		a := h.result(ctx, req, 0, nil, err)
		return &a
	}
	if owner != c.user {
		// The owner is not named: a user learns nothing of another's devices.
		return forbidden("device %s is another user's, not the token's user %s", jsonfield.Quote(id), shown(c.user))
	}
	return nil
}

// recordOwner records the backend that created a push on its row. The owner is for the
// record (who scheduled what; each refusal and write is logged with the caller too): it
// grants nothing, since reaching a push by key takes a backend, whoever created it. A failed
// write answers 503: the push is scheduled, and the same request again (already scheduled)
// records the owner then.
func (h *Handler) recordOwner(ctx context.Context, req events.APIGatewayV2HTTPRequest, c caller, key string) *answer {
	if h.Owners == nil {
		return nil
	}
	if err := h.Owners.RecordPushOwner(ctx, key, c.principal); err != nil {
		h.logger().WarnContext(ctx, "push owner not recorded", "routeKey", req.RouteKey, "requestId", req.RequestContext.RequestID,
			"key", key, "caller", c.String(), "error", err.Error())
		a := fail(http.StatusServiceUnavailable, CodeUnavailable, "", "the push %s is scheduled, but its owner could not be recorded; retry the same request", jsonfield.Quote(key))
		return &a
	}
	return nil
}

// refused logs a refusal with who was refused, and returns it.
func (h *Handler) refused(ctx context.Context, req events.APIGatewayV2HTTPRequest, c caller, a *answer) answer {
	if a.status == http.StatusForbidden {
		msg := ""
		if p, ok := a.body.(Problem); ok {
			msg = p.Error.Message
		}
		h.logger().InfoContext(ctx, "api forbidden", "routeKey", req.RouteKey, "requestId", req.RequestContext.RequestID,
			"caller", c.String(), "reason", msg)
	}
	return *a
}

// shown quotes an id for a message, cut short: it may be as long as the caller made it.
func shown(v string) string {
	const max = 80
	if len(v) <= max {
		return jsonfield.Quote(v)
	}
	cut := v[:max]
	for !utf8.ValidString(cut) && len(cut) > 0 {
		cut = cut[:len(cut)-1]
	}
	return jsonfield.Quote(cut) + fmt.Sprintf(" (%d bytes in all)", len(v))
}

func errorReasonOf(err error) string {
	var de *devices.InvalidError
	if errors.As(err, &de) {
		return de.Reason
	}
	return err.Error()
}

// HandleJSON decodes an invocation's event and answers it (what lambda.Start runs). API
// Gateway passes every JWT claim as a string (numbers and booleans as their text, a list as
// "[a b]", an object as its JSON, a null not at all); the claims of any event are read as API
// Gateway would have written them, so that one set of rules applies whatever sent the event,
// and a scopes list that is not a list of strings counts as no scopes.
func (h *Handler) HandleJSON(ctx context.Context, raw json.RawMessage) (events.APIGatewayV2HTTPResponse, error) {
	fixed, err := normalizeClaims(raw)
	if err != nil {
		fixed = raw // no JWT authorizer in it: nothing to rewrite
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(fixed, &req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("not an API Gateway payload 2.0 event: %w", err)
	}
	return h.Handle(ctx, req)
}

// normalizeClaims rewrites requestContext.authorizer.jwt of an event as API Gateway writes it.
func normalizeClaims(raw json.RawMessage) (json.RawMessage, error) {
	var ev map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return nil, err
	}
	rc, _ := ev["requestContext"].(map[string]any)
	az, _ := rc["authorizer"].(map[string]any)
	jwt, ok := az["jwt"].(map[string]any)
	if !ok {
		return nil, errors.New("no JWT authorizer to rewrite")
	}
	claims := map[string]string{}
	if m, ok := jwt["claims"].(map[string]any); ok {
		for k, v := range m {
			if v != nil {
				claims[k] = ClaimText(v)
			}
		}
	}
	jwt["claims"] = claims
	if list, ok := jwt["scopes"].([]any); ok {
		for _, s := range list {
			if _, isString := s.(string); !isString {
				jwt["scopes"] = nil
				break
			}
		}
	} else {
		jwt["scopes"] = nil
	}
	return json.Marshal(ev)
}

// ClaimText writes a claim's JSON value as API Gateway passes it to the function: a string as
// it is, a list as its items in brackets, space-separated, an object as its JSON, anything
// else as its JSON text (local/apigw writes its events with it).
func ClaimText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			items[i] = ClaimText(item)
		}
		return "[" + strings.Join(items, " ") + "]"
	}
	b, _ := json.Marshal(v) // decoded JSON always encodes
	return string(b)
}
