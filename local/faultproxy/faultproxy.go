// Package faultproxy is a reverse proxy between the local Lambda functions and the AWS
// emulator that injects faults into chosen AWS API calls (throttling, 5xx, delays, answers
// lost after the call took effect, a crash of the calling function) and measures how long
// the emulator takes for each operation. The end-to-end and load tests drive it over HTTP.
//
// Admin API (JSON), on the proxy's own address:
//
//	POST   /_faults         add a Rule; answers it with its ID
//	GET    /_faults         the rules, with how often each applied
//	DELETE /_faults/{id}    remove one rule ("all" removes every rule)
//	GET    /_stats          per operation: calls, errors, time spent in the emulator
//	DELETE /_stats          reset the statistics
//
// Everything else is forwarded to the emulator unchanged.
package faultproxy

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Actions a rule can take on a matching call.
const (
	// ActionError answers with an AWS error (Status, Code, Message) without calling the
	// emulator: the call did not take effect, and the caller can know it.
	ActionError = "error"
	// ActionErrorAfter forwards the call, then answers with an error instead of the real
	// answer: the call took effect, but the caller cannot know it (a lost response).
	ActionErrorAfter = "error-after"
	// ActionDelay waits Delay, then forwards the call (a slow dependency).
	ActionDelay = "delay"
	// ActionKillAfter forwards the call, then kills the function that made it, as a crash
	// right after the call took effect and before anything else.
	ActionKillAfter = "kill-after"
	// ActionHold holds matching calls until the rule is removed, then forwards them: a
	// dependency that does not answer (or, on sqs ReceiveMessage, a paused consumer).
	ActionHold = "hold"
)

// Rule says which calls to disturb and how.
type Rule struct {
	ID        string `json:"id,omitempty"`
	Service   string `json:"service"`   // signing name: "sns", "dynamodb", "sqs", ...
	Operation string `json:"operation"` // "Publish", "UpdateItem", ...; "" matches every one
	// Match, when set, must occur in the request body, form-decoded for the query protocol
	// (an endpoint ARN, a push id, ...).
	Match  string `json:"match,omitempty"`
	Action string `json:"action"`
	// Status, Code and Message make the error of ActionError and ActionErrorAfter.
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Delay is a Go duration ("500ms") for ActionDelay.
	Delay string `json:"delay,omitempty"`
	// Times is how many matching calls the rule applies to; 0 means every one.
	Times int `json:"times,omitempty"`
	// Probability in (0, 1] applies the rule to that share of matching calls; 0 means all.
	Probability float64 `json:"probability,omitempty"`
	Hits        int     `json:"hits"`
	delay       time.Duration
	released    chan struct{} // closed when the rule is removed (ActionHold)
}

// OpStats is what the proxy saw of one operation.
type OpStats struct {
	Calls    int     `json:"calls"`
	Injected int     `json:"injected"` // calls a rule applied to (an injected error is a call too)
	Errors   int     `json:"errors"`   // answers with status >= 400, injected ones included
	TotalMs  float64 `json:"totalMs"`  // time spent in the emulator, summed
	MaxMs    float64 `json:"maxMs"`
}

// Proxy is an http.Handler.
type Proxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	// Kill kills the function environment whose credentials have the access key id, and
	// reports whether there was one (ActionKillAfter).
	Kill func(accessKeyID string) bool

	mu     sync.Mutex
	rules  []*Rule
	nextID int
	stats  map[string]*OpStats
}

// New returns a proxy to the emulator at target.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: bad target URL %q", target)
	}
	p := &Proxy{target: u, stats: map[string]*OpStats{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // moto builds queue URLs from it; signatures are not checked
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
	}
	return p, nil
}

// call identifies an AWS API call.
type call struct {
	service, operation, accessKey string
	text                          string // the body, form-decoded for the query protocol
}

var credentialScope = regexp.MustCompile(`Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request`)

// identify reads the service and access key from the SigV4 Authorization header and the
// operation from X-Amz-Target (JSON protocols) or the Action form field (query protocol).
func identify(r *http.Request, body []byte) call {
	c := call{text: string(body)}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.accessKey, c.service = m[1], m[2]
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		c.operation = target[strings.LastIndexByte(target, '.')+1:]
	} else if form, err := url.ParseQuery(string(body)); err == nil {
		c.operation = form.Get("Action")
		if text, err := url.QueryUnescape(string(body)); err == nil {
			c.text = text
		}
	}
	return c
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_faults" || strings.HasPrefix(r.URL.Path, "/_faults/"):
		p.serveRules(w, r)
		return
	case r.URL.Path == "/_stats":
		p.serveStats(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c := identify(r, body)
	rule := p.match(c)

	if rule != nil {
		switch rule.Action {
		case ActionError:
			p.observe(c, true, rule.Status, 0)
			writeAWSError(w, r, rule)
			return
		case ActionDelay:
			select {
			case <-time.After(rule.delay):
			case <-r.Context().Done():
				return
			}
		case ActionHold:
			select {
			case <-rule.released:
			case <-r.Context().Done():
				return
			}
		}
	}

	start := time.Now()
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	p.observe(c, rule != nil, rec.status, time.Since(start))

	if rule != nil {
		switch rule.Action {
		case ActionErrorAfter:
			writeAWSError(w, r, rule)
			return
		case ActionKillAfter:
			if p.Kill != nil {
				p.Kill(c.accessKey)
			}
			// No answer: the caller is dead, and must not get one if it were not.
			panic(http.ErrAbortHandler)
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// match returns the first rule that applies to c, counting the hit.
func (p *Proxy) match(c call) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.Service != c.service || (r.Operation != "" && r.Operation != c.operation) ||
			(r.Match != "" && !strings.Contains(c.text, r.Match)) ||
			(r.Times > 0 && r.Hits >= r.Times) ||
			(r.Probability > 0 && rand.Float64() >= r.Probability) {
			continue
		}
		r.Hits++
		out := *r
		return &out
	}
	return nil
}

func (p *Proxy) observe(c call, injected bool, status int, d time.Duration) {
	key := c.service + "." + c.operation
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats[key]
	if s == nil {
		s = &OpStats{}
		p.stats[key] = s
	}
	s.Calls++
	if injected {
		s.Injected++
	}
	if status >= 400 {
		s.Errors++
	}
	ms := float64(d.Microseconds()) / 1000
	s.TotalMs += ms
	s.MaxMs = max(s.MaxMs, ms)
}

// writeAWSError answers in the protocol of the call: JSON (X-Amz-Target) or query XML.
func writeAWSError(w http.ResponseWriter, r *http.Request, rule *Rule) {
	status := rule.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	msg := rule.Message
	if msg == "" {
		msg = "injected by faultproxy"
	}
	w.Header().Set("X-Amzn-RequestId", "faultproxy")
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Query-Error", rule.Code+";Sender")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws#" + rule.Code, "message": msg})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>`,
		kind, xmlEscape(rule.Code), xmlEscape(msg))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (p *Proxy) serveRules(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/_faults":
		var rule Rule
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rule); err != nil {
			http.Error(w, "bad rule: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := rule.check(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.nextID++
		rule.ID, rule.Hits, rule.released = strconv.Itoa(p.nextID), 0, make(chan struct{})
		p.rules = append(p.rules, &rule)
		writeJSON(w, rule)
	case r.Method == http.MethodGet && r.URL.Path == "/_faults":
		writeJSON(w, p.rules)
	case r.Method == http.MethodDelete:
		id := strings.TrimPrefix(r.URL.Path, "/_faults/")
		p.rules = slices.DeleteFunc(p.rules, func(rule *Rule) bool {
			if id == "all" || rule.ID == id {
				close(rule.released)
				return true
			}
			return false
		})
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unknown fault API call", http.StatusNotFound)
	}
}

func (rule *Rule) check() error {
	if rule.Service == "" {
		return fmt.Errorf("rule needs a service")
	}
	switch rule.Action {
	case ActionError, ActionErrorAfter:
		if rule.Code == "" {
			return fmt.Errorf("rule %s needs an error code", rule.Action)
		}
	case ActionDelay:
		d, err := time.ParseDuration(rule.Delay)
		if err != nil || d <= 0 {
			return fmt.Errorf("rule delay needs a positive Go duration, got %q", rule.Delay)
		}
		rule.delay = d
	case ActionKillAfter, ActionHold:
	default:
		return fmt.Errorf("unknown action %q", rule.Action)
	}
	if rule.Probability < 0 || rule.Probability > 1 {
		return fmt.Errorf("probability must be in [0, 1], got %v", rule.Probability)
	}
	return nil
}

func (p *Proxy) serveStats(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Method == http.MethodDelete {
		p.stats = map[string]*OpStats{}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, p.stats)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// recorder holds the emulator's answer until the rule has decided what the caller gets.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
