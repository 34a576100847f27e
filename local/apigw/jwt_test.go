package apigw

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var jwtNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func jwtServer(t *testing.T, fn Invoker) (*httptest.Server, *Issuer) {
	t.Helper()
	iss, err := NewIssuer()
	require.NoError(t, err)
	keys, err := ParseJWKS(iss.JWKS())
	require.NoError(t, err)
	s := &Server{Region: "us-east-1", AccountID: "123456789012", APIID: "local", Now: func() time.Time { return jwtNow },
		JWT: &JWT{Issuer: LocalIssuer, Audience: []string{LocalAudience, "other-app"}, Keys: keys},
		Routes: []Route{
			{Method: "GET", Path: "/users/{userId}/devices", Auth: "JWT", Function: fn},
			{Method: "GET", Path: "/open", Auth: "NONE", Function: fn},
		}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, iss
}

// claims are a valid token's, with changes (nil removes a claim).
func claims(changes map[string]any) map[string]any {
	c := map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "sub": "alice", "exp": jwtNow.Add(time.Hour).Unix(),
		"iat": jwtNow.Add(-time.Minute).Unix(), "scope": "openid profile"}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func withToken(t *testing.T, url, authorization string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req
}

func sign(t *testing.T, iss *Issuer, c map[string]any) string {
	t.Helper()
	tok, err := iss.Sign(c)
	require.NoError(t, err)
	return tok
}

// A valid token reaches the function with its claims in requestContext.authorizer.jwt, every
// value a string as API Gateway passes them: numbers as their text, lists as "[a b]".
func TestAValidTokenReachesTheFunctionWithItsClaims(t *testing.T) {
	fn := &echo{}
	srv, iss := jwtServer(t, fn)
	tok := sign(t, iss, claims(map[string]any{"aud": []string{"someone-else", LocalAudience}, "cognito:groups": []string{"admin", "ops"},
		"email_verified": true, "nickname": nil, "address": map[string]any{"country": "NL"}}))
	for _, authorization := range []string{"Bearer " + tok, tok} {
		status, _ := do(t, withToken(t, srv.URL+"/users/alice/devices", authorization))
		require.Equal(t, 201, status)
		a := fn.last.RequestContext.Authorizer
		require.NotNil(t, a)
		assert.Nil(t, a.IAM)
		require.NotNil(t, a.JWT)
		assert.Equal(t, map[string]string{"iss": LocalIssuer, "aud": "[someone-else delayed-push-local]", "sub": "alice",
			"exp": "1796119200", "iat": "1796115540", "scope": "openid profile", "cognito:groups": "[admin ops]",
			"email_verified": "true", "address": `{"country":"NL"}`}, a.JWT.Claims)
		assert.Nil(t, a.JWT.Scopes, "the routes require no scope: API Gateway passes none")
		assert.Equal(t, map[string]string{"userId": "alice"}, fn.last.PathParameters)
	}
}

// Whatever API Gateway's JWT authorizer refuses is 401 {"message":"Unauthorized"} with its
// WWW-Authenticate header, and never reaches the function.
func TestTokensTheAuthorizerRefusesAre401(t *testing.T) {
	fn := &echo{}
	srv, iss := jwtServer(t, fn)
	other, err := NewIssuer()
	require.NoError(t, err)
	other.KeyID = iss.KeyID // another key, claiming to be the issuer's
	valid := sign(t, iss, claims(nil))
	parts := strings.Split(valid, ".")
	forged, _ := json.Marshal(claims(map[string]any{"sub": "bob"}))
	hs256 := func() string { // the public key as an HMAC secret: the classic confusion
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + iss.KeyID + `"}`))
		body := base64.RawURLEncoding.EncodeToString(forged)
		m := hmac.New(sha256.New, iss.JWKS())
		m.Write([]byte(head + "." + body))
		return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+iss.KeyID+`"}`)) + "." + base64.RawURLEncoding.EncodeToString(forged) + "."

	for name, c := range map[string]struct{ authorization, why string }{
		"no token":             {"", "no token"},
		"an empty bearer":      {"Bearer ", "no token"},
		"not a JWT":            {"Bearer abc", "not a signed JWT"},
		"another key":          {"Bearer " + sign(t, other, claims(nil)), "signature is not valid"},
		"an unknown kid":       {"Bearer " + func() string { o, _ := NewIssuer(); return sign(t, o, claims(nil)) }(), "no key of the issuer has the token's kid"},
		"a changed payload":    {"Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2], "signature is not valid"},
		"alg none":             {"Bearer " + unsigned, `algorithm "none" is not RSA`},
		"alg HS256":            {"Bearer " + hs256, `algorithm "HS256" is not RSA`},
		"another issuer":       {"Bearer " + sign(t, iss, claims(map[string]any{"iss": "https://evil.example.com/"})), "valid issuer"},
		"no issuer":            {"Bearer " + sign(t, iss, claims(map[string]any{"iss": nil})), "valid issuer"},
		"another audience":     {"Bearer " + sign(t, iss, claims(map[string]any{"aud": "someone-else"})), "valid audience"},
		"a list without ours":  {"Bearer " + sign(t, iss, claims(map[string]any{"aud": []string{"a", "b"}})), "valid audience"},
		"client_id beside aud": {"Bearer " + sign(t, iss, claims(map[string]any{"aud": "x", "client_id": LocalAudience})), "valid audience"},
		"no audience":          {"Bearer " + sign(t, iss, claims(map[string]any{"aud": nil})), "valid audience"},
		"expired":              {"Bearer " + sign(t, iss, claims(map[string]any{"exp": jwtNow.Add(-time.Second).Unix()})), "expired"},
		"expiring now":         {"Bearer " + sign(t, iss, claims(map[string]any{"exp": jwtNow.Unix()})), "expired"},
		"no exp":               {"Bearer " + sign(t, iss, claims(map[string]any{"exp": nil})), "no valid exp"},
		"exp a string":         {"Bearer " + sign(t, iss, claims(map[string]any{"exp": "1796119200"})), "no valid exp"},
		"not yet valid":        {"Bearer " + sign(t, iss, claims(map[string]any{"nbf": jwtNow.Add(time.Minute).Unix()})), "nbf is not a time in the past"},
		"issued in the future": {"Bearer " + sign(t, iss, claims(map[string]any{"iat": jwtNow.Add(time.Minute).Unix()})), "iat is not a time in the past"},
	} {
		resp, err := http.DefaultClient.Do(withToken(t, srv.URL+"/users/alice/devices", c.authorization))
		require.NoError(t, err, name)
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), name)
		resp.Body.Close()
		assert.Equal(t, 401, resp.StatusCode, name)
		assert.Equal(t, map[string]string{"message": "Unauthorized"}, body, name)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`, name)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), strings.ReplaceAll(c.why, `"`, `'`), name)
	}
	assert.Empty(t, fn.last.RouteKey, "the function never ran")

	// client_id counts when there is no aud, as in API Gateway; nbf and iat in the past are fine.
	status, _ := do(t, withToken(t, srv.URL+"/users/alice/devices", "Bearer "+sign(t, iss, claims(map[string]any{"aud": nil, "client_id": "other-app",
		"nbf": jwtNow.Add(-time.Hour).Unix()}))))
	assert.Equal(t, 201, status)
	open, _ := http.NewRequest("GET", srv.URL+"/open", nil)
	status, _ = do(t, open)
	assert.Equal(t, 201, status, "a route without authorization needs no token")
}

func TestAJWTRouteWithoutAnAuthorizerIsAnError(t *testing.T) {
	fn := &echo{}
	srv := httptest.NewServer(&Server{Routes: []Route{{Method: "GET", Path: "/x", Auth: "JWT", Function: fn}}})
	defer srv.Close()
	status, _ := do(t, withToken(t, srv.URL+"/x", "Bearer x.y.z"))
	assert.Equal(t, 500, status)
	assert.Empty(t, fn.last.RouteKey)
}

func TestTheIssuersKeyRoundTrips(t *testing.T) {
	iss, err := NewIssuer()
	require.NoError(t, err)
	again, err := LoadIssuer(iss.PEM())
	require.NoError(t, err)
	assert.Equal(t, iss.KeyID, again.KeyID)
	keys, err := ParseJWKS(iss.JWKS())
	require.NoError(t, err)
	j := &JWT{Issuer: LocalIssuer, Audience: []string{LocalAudience}, Keys: keys}
	got, err := j.Verify("Bearer "+sign(t, again, claims(nil)), jwtNow)
	require.NoError(t, err)
	assert.Equal(t, "alice", got["sub"])

	for _, bad := range []string{`{}`, `{"keys":[]}`, `{"keys":[{"kty":"EC","kid":"x"}]}`, `{"keys":[{"kty":"RSA","kid":"x","n":"!","e":"AQAB"}]}`, `[`} {
		_, err := ParseJWKS([]byte(bad))
		assert.Error(t, err, bad)
	}
	_, err = LoadIssuer([]byte("not a key"))
	assert.Error(t, err)
}

func TestTheLocalIssuerIsWrittenAndTrusted(t *testing.T) {
	dir := t.TempDir()
	j, err := NewLocalJWT(dir)
	require.NoError(t, err)
	iss, err := LoadLocalIssuer(dir)
	require.NoError(t, err)
	got, err := j.Verify("Bearer "+sign(t, iss, claims(nil)), jwtNow)
	require.NoError(t, err)
	assert.Equal(t, "alice", got["sub"])
}
