package apigw

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/httpapi"
)

// The local JWT authorizer's issuer and audience: what local tokens are made for (the local
// stack's second API host, apiJwtEndpoint in stack.json, checks them).
const (
	LocalIssuer   = "https://issuer.delayed-push.local/"
	LocalAudience = "delayed-push-local"
)

// JWT is a JWT authorizer, checking a token as API Gateway's does
// (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html): the
// Authorization header holds the token, alone or after "Bearer "; it is signed with RSA
// (RS256, RS384 or RS512) by the key of the issuer's JWKS its kid names; iss is Issuer; aud, or
// client_id when there is no aud, is one of Audience; exp is in the future, nbf and iat not.
// API Gateway fetches the JWKS from the issuer; here Keys holds it.
type JWT struct {
	Issuer   string
	Audience []string
	Keys     map[string]*rsa.PublicKey
}

// Verify checks the token of an Authorization header at now and returns its claims (numbers
// kept as their JSON text).
func (j *JWT) Verify(authorization string, now time.Time) (map[string]any, error) {
	token := strings.TrimSpace(authorization)
	if t, ok := strings.CutPrefix(token, "Bearer"); ok && (t == "" || t[0] == ' ') {
		token = strings.TrimSpace(t)
	}
	if token == "" {
		return nil, errors.New("no token in the Authorization header")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the token is not a signed JWT (three base64url parts)")
	}
	var head struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodePart(parts[0], &head); err != nil {
		return nil, fmt.Errorf("the token's header: %w", err)
	}
	hash, ok := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512}[head.Alg]
	if !ok {
		return nil, fmt.Errorf("the token's algorithm %q is not RSA (RS256, RS384, RS512)", head.Alg)
	}
	key, ok := j.Keys[head.Kid]
	if !ok {
		return nil, fmt.Errorf("no key of the issuer has the token's kid %q", head.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("the token's signature is not base64url")
	}
	h := hash.New()
	h.Write([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, hash, h.Sum(nil), sig); err != nil {
		return nil, errors.New("the token's signature is not valid")
	}
	var claims map[string]any
	if err := decodePart(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("the token's claims: %w", err)
	}
	return claims, j.checkClaims(claims, now)
}

func (j *JWT) checkClaims(claims map[string]any, now time.Time) error {
	if iss, _ := claims["iss"].(string); iss != j.Issuer {
		return fmt.Errorf("the token does not have a valid issuer: %q is not %q", iss, j.Issuer)
	}
	if !j.audienceOK(claims) {
		return errors.New("the token does not have a valid audience")
	}
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return errors.New("the token has no valid exp")
	}
	if !now.Before(exp) {
		return errors.New("the token has expired")
	}
	for _, name := range []string{"nbf", "iat"} {
		if v, present := claims[name]; present {
			t, ok := numericDate(v)
			if !ok || t.After(now) {
				return fmt.Errorf("the token's %s is not a time in the past", name)
			}
		}
	}
	return nil
}

// audienceOK: aud (a string or a list) names one of the audiences; client_id is looked at
// only when there is no aud, as API Gateway does.
func (j *JWT) audienceOK(claims map[string]any) bool {
	var auds []any
	switch v := claims["aud"].(type) {
	case nil:
		auds = []any{claims["client_id"]}
	case []any:
		auds = v
	default:
		auds = []any{v}
	}
	for _, a := range auds {
		s, _ := a.(string)
		for _, want := range j.Audience {
			if s != "" && s == want {
				return true
			}
		}
	}
	return false
}

func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, 0).Add(time.Duration(f * float64(time.Second))), true
}

func decodePart(part string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// jwtAuthorizer is what API Gateway passes to the function for a valid token: every claim as
// a string (a null one left out), and scopes only when the route requires some (these routes
// require none: the function decides).
func jwtAuthorizer(claims map[string]any) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	out := map[string]string{}
	for k, v := range claims {
		if v != nil {
			out[k] = httpapi.ClaimText(v)
		}
	}
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: out},
	}
}

// unauthorized is API Gateway's answer to a token its JWT authorizer refuses.
func unauthorized(w http.ResponseWriter, why error) {
	desc := strings.ReplaceAll(why.Error(), `"`, `'`) // a quoted-string of the header
	w.Header().Set("WWW-Authenticate", `Bearer scope="" error="invalid_token" error_description="`+desc+`"`)
	message(w, http.StatusUnauthorized, "Unauthorized")
}

// ParseJWKS reads a JSON Web Key Set's RSA keys, by kid.
func ParseJWKS(b []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, nerr := base64.RawURLEncoding.DecodeString(k.N)
		e, eerr := base64.RawURLEncoding.DecodeString(k.E)
		if nerr != nil || eerr != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("JWKS key %q: n and e must be base64url numbers", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWKS has no RSA key")
	}
	return keys, nil
}

// Issuer signs tokens as an identity provider would, RS256 with one key, for the local JWT
// authorizer and the tests.
type Issuer struct {
	Key   *rsa.PrivateKey
	KeyID string
}

// NewIssuer makes an issuer with a new 2048-bit key.
func NewIssuer() (*Issuer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return issuerOf(k), nil
}

// keyID names a key by its modulus, so that the PEM alone gives back the same issuer.
func issuerOf(k *rsa.PrivateKey) *Issuer {
	sum := sha256.Sum256(k.N.Bytes())
	return &Issuer{Key: k, KeyID: base64.RawURLEncoding.EncodeToString(sum[:12])}
}

// LoadIssuer reads an issuer's key (PKCS #8 PEM, as PEM writes it).
func LoadIssuer(b []byte) (*Issuer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return issuerOf(rk), nil
}

// PEM is the issuer's private key (PKCS #8).
func (i *Issuer) PEM() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(i.Key) // an RSA key always marshals
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// JWKS is the issuer's public key set.
func (i *Issuer) JWKS() []byte {
	e := big.NewInt(int64(i.Key.E)).Bytes()
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": i.KeyID,
		"n": base64.RawURLEncoding.EncodeToString(i.Key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(e),
	}}})
	return b
}

// Sign makes an RS256 token of the claims, with the issuer's kid.
func (i *Issuer) Sign(claims map[string]any) (string, error) {
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": i.KeyID})
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(head) + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, i.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// The files of the local issuer, in the local state directory.
const (
	LocalIssuerKeyFile = "jwt-issuer-key.pem" // its private key: tests sign tokens with it
	LocalJWKSFile      = "jwks.json"          // its public keys, which the authorizer trusts
)

// NewLocalJWT makes a local issuer (a new key, written to dir) and the JWT authorizer that
// trusts it: LocalIssuer, LocalAudience, the keys read back from dir's JWKS.
func NewLocalJWT(dir string) (*JWT, error) {
	iss, err := NewIssuer()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, LocalIssuerKeyFile), iss.PEM(), 0o600); err != nil {
		return nil, err
	}
	jwks := filepath.Join(dir, LocalJWKSFile)
	if err := os.WriteFile(jwks, iss.JWKS(), 0o644); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(jwks)
	if err != nil {
		return nil, err
	}
	keys, err := ParseJWKS(b)
	if err != nil {
		return nil, err
	}
	return &JWT{Issuer: LocalIssuer, Audience: []string{LocalAudience}, Keys: keys}, nil
}

// LoadLocalIssuer reads the local issuer NewLocalJWT wrote to dir.
func LoadLocalIssuer(dir string) (*Issuer, error) {
	b, err := os.ReadFile(filepath.Join(dir, LocalIssuerKeyFile))
	if err != nil {
		return nil, err
	}
	return LoadIssuer(b)
}
