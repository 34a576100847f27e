// Package apigw serves a stack's API Gateway HTTP API locally, as API Gateway does: it matches
// the template's route keys, checks the SigV4 signature of AWS_IAM routes (against the
// emulator's test credentials) or the token of JWT routes (jwt.go: RS256 against a JWKS,
// issuer, audience, expiry; 401 otherwise), builds the payload format 2.0 event with what the
// authorizer found (requestContext.authorizer.iam or .jwt), invokes the route's
// function through the Lambda host (the real bootstrap), and turns its answer into the HTTP
// response. The emulator (moto) has no HTTP API data plane; see local/RESEARCH.md.
package apigw

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Invoker runs a function (a *lambdahost.Host).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Route is one route of the API.
type Route struct {
	Method string // GET, POST, ...
	Path   string // /pushes/{key}
	// Auth is the route's AuthorizationType: AWS_IAM, JWT or NONE.
	Auth     string
	Function Invoker
}

// RouteKey is "METHOD /path", as API Gateway writes it.
func (r Route) RouteKey() string { return r.Method + " " + r.Path }

// Server is the API.
type Server struct {
	Routes    []Route
	Region    string
	AccountID string
	APIID     string
	// Secrets maps the access keys a signature may use to their secret keys.
	Secrets map[string]string
	// JWT is the authorizer of JWT routes (nil: they are refused, 500).
	JWT *JWT
	// MaxBody is API Gateway's payload limit (10 MB).
	MaxBody int64
	Log     io.Writer
	Now     func() time.Time
}

// message is how API Gateway answers what never reaches the function.
func message(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "apigw: "+format+"\n", args...)
	}
}

// match finds the route of a request and its path parameters.
func (s *Server) match(method, escapedPath string) (*Route, map[string]string) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for i := range s.Routes {
		r := &s.Routes[i]
		if r.Method != method {
			continue
		}
		want := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(want) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, w := range want {
			if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[strings.Trim(w, "{}")] = v
			} else if w != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return r, params
		}
	}
	return nil, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	started := s.now()
	limit := s.MaxBody
	if limit <= 0 {
		limit = 10 << 20
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		message(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if int64(len(body)) > limit {
		message(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	route, params := s.match(req.Method, req.URL.EscapedPath())
	if route == nil {
		message(w, http.StatusNotFound, "Not Found")
		return
	}
	var authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	switch route.Auth {
	case "AWS_IAM":
		ak, err := s.verify(req, body)
		if err != nil {
			s.logf("%s %s: 403: %v", req.Method, req.URL.Path, err)
			message(w, http.StatusForbidden, "Forbidden")
			return
		}
		authorizer = s.iamAuthorizer(ak)
	case "JWT":
		if s.JWT == nil {
			s.logf("%s: a JWT route, and no JWT authorizer", route.RouteKey())
			message(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		claims, err := s.JWT.Verify(req.Header.Get("Authorization"), s.now())
		if err != nil {
			s.logf("%s %s: 401: %v", req.Method, req.URL.Path, err)
			unauthorized(w, err)
			return
		}
		authorizer = jwtAuthorizer(claims)
	}
	ev := s.event(req, route, params, body, authorizer, started)
	payload, _ := json.Marshal(ev) // an event of strings and maps always encodes
	out, err := route.Function.Invoke(req.Context(), payload)
	if err != nil {
		s.logf("%s: function error: %v", route.RouteKey(), err)
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if err := writeResponse(w, out); err != nil {
		s.logf("%s: bad function answer: %v", route.RouteKey(), err)
		message(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

// event is the payload format 2.0 event API Gateway sends for req.
func (s *Server) event(req *http.Request, route *Route, params map[string]string, body []byte,
	authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription, at time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for name, vs := range req.Header {
		headers[strings.ToLower(name)] = strings.Join(vs, ",")
	}
	headers["host"] = req.Host
	var cookies []string
	if c := req.Header.Get("Cookie"); c != "" {
		for _, part := range strings.Split(c, ";") {
			cookies = append(cookies, strings.TrimSpace(part))
		}
		delete(headers, "cookie")
	}
	var query map[string]string
	if q := req.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route.RouteKey(), RawPath: req.URL.Path, RawQueryString: req.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: route.RouteKey(), AccountID: s.AccountID, Stage: "$default", RequestID: requestID(),
			APIID: s.APIID, DomainName: req.Host, DomainPrefix: strings.Split(req.Host, ".")[0],
			Time: at.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: at.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: strings.Split(req.RemoteAddr, ":")[0], UserAgent: req.UserAgent(),
			},
		},
	}
	ev.RequestContext.Authorizer = authorizer
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// iamAuthorizer is what API Gateway passes on for a request SigV4 signed with accessKey (the
// emulator's test credentials are the account's root).
func (s *Server) iamAuthorizer(accessKey string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
			AccessKey: accessKey, AccountID: s.AccountID, CallerID: accessKey,
			UserARN: "arn:aws:iam::" + s.AccountID + ":root", UserID: s.AccountID,
		},
	}
}

// writeResponse turns a function's answer into the response, in the 2.0 format's two shapes:
// a structured response (statusCode, headers, body, ...) or any other JSON value, which API
// Gateway sends as a 200 application/json body.
func writeResponse(w http.ResponseWriter, out []byte) error {
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(out)
		return err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return err
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, err := w.Write(body)
	return err
}

func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// verify checks an AWS Signature Version 4 Authorization header (service execute-api) and
// returns its access key.
func (s *Server) verify(req *http.Request, body []byte) (string, error) {
	auth := req.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", errors.New("no SigV4 Authorization header")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" {
		return "", fmt.Errorf("bad credential scope %q", fields["Credential"])
	}
	accessKey, date, region, service := cred[0], cred[1], cred[2], cred[3]
	secret, known := s.Secrets[accessKey]
	switch {
	case !known:
		return "", fmt.Errorf("unknown access key %s", accessKey)
	case service != "execute-api":
		return "", fmt.Errorf("signed for service %s, not execute-api", service)
	case s.Region != "" && region != s.Region:
		return "", fmt.Errorf("signed for region %s, not %s", region, s.Region)
	}
	amzDate := req.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, date) {
		return "", fmt.Errorf("bad X-Amz-Date %q", amzDate)
	}
	if d := s.now().Sub(signedAt); d > 15*time.Minute || d < -15*time.Minute {
		return "", fmt.Errorf("signature time %s is more than 15 minutes off", amzDate)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	var canonHeaders strings.Builder
	for _, h := range signed {
		v := req.Header.Values(h)
		if h == "host" {
			v = []string{req.Host}
		}
		for i := range v {
			v[i] = strings.Join(strings.Fields(v[i]), " ")
		}
		canonHeaders.WriteString(h + ":" + strings.Join(v, ",") + "\n")
	}
	payloadHash := req.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" || payloadHash == "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	scope := strings.Join(cred[1:], "/")
	key := []byte("AWS4" + secret)
	for _, part := range []string{date, region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	// The path as sent, and encoded once more (AWS's rule for services other than S3):
	// clients differ in which they sign.
	for _, path := range []string{req.URL.EscapedPath(), encodePath(req.URL.EscapedPath())} {
		canon := strings.Join([]string{req.Method, path, canonicalQuery(req.URL.Query()), canonHeaders.String(),
			fields["SignedHeaders"], payloadHash}, "\n")
		sum := sha256.Sum256([]byte(canon))
		toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
		if hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(key, toSign))), []byte(fields["Signature"])) {
			return accessKey, nil
		}
	}
	return "", errors.New("signature does not match")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func encodePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// uriEncode is SigV4's encoding: everything but unreserved characters as %XX.
func uriEncode(s string) string {
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
