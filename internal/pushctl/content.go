package pushctl

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
	"github.com/delayed-push/delayed-push/schedule"
)

// The flags schedule, send and reschedule share: the key, the push's content, and when.

func defineKey(fs *flag.FlagSet, key *string) {
	fs.StringVar(key, "key", "", "the push's key (its id; makes retries safe)")
}

// contentFlags are the push: its fields as flags, or the whole push as JSON.
type contentFlags struct {
	user, endpoint, title, body, ttl, priority, collapseKey, delivery, maxLateness, pushJSON, pushFile string
	data                                                                                               dataFlag
}

func (c *contentFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&c.user, "user", "", "recipient: every device of this user id")
	fs.StringVar(&c.endpoint, "endpoint", "", "recipient: this SNS platform endpoint ARN")
	fs.StringVar(&c.title, "title", "", "notification title")
	fs.StringVar(&c.body, "body", "", "notification body")
	fs.Var(&c.data, "data", "data key=value for the app (repeatable)")
	fs.StringVar(&c.ttl, "ttl", "", "seconds FCM keeps it for an offline device (0..2419200)")
	fs.StringVar(&c.priority, "priority", "", `"high" or "normal"`)
	fs.StringVar(&c.collapseKey, "collapse-key", "", "FCM collapse key")
	fs.StringVar(&c.delivery, "delivery", "", `"at-least-once" or "at-most-once" (default: the stack's)`)
	fs.StringVar(&c.maxLateness, "max-lateness", "", "not sent if later than this after its due time (duration or seconds)")
	fs.StringVar(&c.pushJSON, "push-json", "", "the whole push as JSON, instead of the content flags")
	fs.StringVar(&c.pushFile, "push-file", "", "a file holding the push as JSON")
}

// contentGiven reports whether any content flag was given.
func contentGiven(given map[string]bool) bool {
	for _, f := range []string{"user", "endpoint", "title", "body", "data", "ttl", "priority", "collapse-key", "delivery", "max-lateness", "push-json", "push-file"} {
		if given[f] {
			return true
		}
	}
	return false
}

// asJSON reports whether the push is given as JSON (--push-json or --push-file).
func (c *contentFlags) asJSON() bool { return c.pushJSON != "" || c.pushFile != "" }

// build makes the push from --push-json/--push-file, or from base with the content flags
// given applied. Values are checked by the client, in the state machine's words.
func (c *contentFlags) build(base push.Push, given map[string]bool) (push.Push, error) {
	raw := c.pushJSON
	if c.pushFile != "" {
		if raw != "" {
			return push.Push{}, usagef("give --push-json or --push-file, not both")
		}
		b, err := os.ReadFile(c.pushFile)
		if err != nil {
			return push.Push{}, fmt.Errorf("--push-file: %w", err)
		}
		raw = string(b)
	}
	if raw != "" {
		if given["user"] || given["endpoint"] || given["title"] || given["body"] || given["data"] {
			return push.Push{}, usagef("give the push as JSON or as flags, not both")
		}
		p, err := push.Decode([]byte(raw))
		if err != nil {
			return push.Push{}, schedule.InPush(err)
		}
		return p, nil
	}
	p := base
	if given["user"] {
		p.UserID, p.EndpointARN = c.user, ""
	}
	if given["endpoint"] {
		p.EndpointARN, p.UserID = c.endpoint, ""
	}
	if given["user"] && given["endpoint"] {
		p.UserID, p.EndpointARN = c.user, c.endpoint // the client says which one is too many
	}
	if given["title"] {
		p.Title = c.title
	}
	if given["body"] {
		p.Body = c.body
	}
	if given["data"] {
		p.Data = c.data
	}
	if given["ttl"] {
		n, err := strconv.Atoi(c.ttl)
		if err != nil {
			return push.Push{}, usagef("--ttl wants whole seconds, got %q", c.ttl)
		}
		p.TTLSeconds = &n
	}
	if given["priority"] {
		p.Priority = c.priority
	}
	if given["collapse-key"] {
		p.CollapseKey = c.collapseKey
	}
	if given["delivery"] {
		p.Delivery = c.delivery
	}
	if given["max-lateness"] {
		d, err := duration("max-lateness", c.maxLateness)
		if err != nil {
			return push.Push{}, err
		}
		if d%time.Second != 0 || d < time.Second {
			return push.Push{}, usagef("--max-lateness wants whole seconds, at least 1, got %v", d)
		}
		p.MaxLatenessSeconds = int(d / time.Second)
	}
	return p, nil
}

// whenFlags are --delay, --at, --local-time and --now: at most one.
type whenFlags struct {
	delay, at, local string
	now              bool
}

func (w *whenFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&w.delay, "delay", "", "send after this long (90s, 5m, 2h, or seconds)")
	fs.StringVar(&w.at, "at", "", "send at this RFC 3339 time")
	fs.StringVar(&w.local, "local-time", "", "send at this wall-clock time in the user's time zone (2026-12-24T09:00, no offset; needs --user)")
	fs.BoolVar(&w.now, "now", false, "send now")
}

// when is the time given, if one was (ok); --delay 0 is now.
type when struct {
	delay time.Duration
	at    time.Time
	local string
	now   bool
	ok    bool
}

func (w *whenFlags) read(given map[string]bool) (when, error) {
	n := 0
	for _, f := range []string{"delay", "at", "local-time", "now"} {
		if given[f] {
			n++
		}
	}
	if n > 1 {
		return when{}, usagef("give one of --delay, --at, --local-time and --now")
	}
	t := when{ok: n == 1}
	switch {
	case given["delay"]:
		d, err := duration("delay", w.delay)
		if err != nil {
			return when{}, err
		}
		t.delay, t.now = d, d == 0
	case given["at"]:
		at, ok := jsonfield.ParseTime(w.at)
		if !ok {
			return when{}, usagef("--at wants an RFC 3339 time (2026-12-01T09:00:00Z), got %q", w.at)
		}
		t.at = at
	case given["local-time"]:
		// Checked here, in recipient's words; the client resolves it in the user's zone.
		if _, err := recipient.ParseLocalTime(w.local); err != nil {
			var ie *recipient.InvalidError
			errors.As(err, &ie)
			return when{}, usagef("--local-time %s", ie.Reason)
		}
		t.local = w.local
	case given["now"]:
		t.now = w.now
	}
	return t, nil
}
