// Package caps holds frequency caps: "at most N pushes per user in a rolling window W".
//
// Rules. A stack has a list of caps; a category may have its own. The stack's caps count every
// push that is not exempt; a category's caps count, in addition, the pushes of that category
// only, so categories do not use up each other's caps. An exempt push ("cap": false) is never
// counted nor refused. A push at time t is refused when, for one of its caps, N pushes already
// counted for that cap have times in (t−W, t].
//
// Guarantee, by the times given to Take (the store's tests prove it on an atomic table): however
// many pushes for one user are taken at once, by however many goroutines or invocations, no cap
// ever counts more than N pushes in a window, and a push is refused only when one cap has N;
// so 50 pushes taken at once for a user with no count yet admit exactly the smallest N of
// their caps. Taking a push again after it was
// counted (a retry after a crash, a duplicate delivery) admits it again without counting it
// twice, for as long as its longest window. A refused push is not counted. When the store
// fails, Take returns the error and nothing is decided: the caller chooses (the sender should
// let the push be retried rather than send it uncapped).
//
// Configuration: ParseConfig's compact form, e.g. "3/24h,1/10m; promo=1/1h".
package caps

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits of a configuration, so that the store's item stays small (see the store).
const (
	MaxN            = 100                 // pushes per cap
	MinWindow       = time.Minute         // shortest window
	MaxWindow       = 30 * 24 * time.Hour // longest window
	MaxCapsPerGroup = 4                   // caps of the stack, or of one category
	MaxCategories   = 16                  // categories with caps of their own
	MaxTotalN       = 200                 // sum of N over the whole configuration
	MaxCategoryLen  = 32                  // characters in a category name
)

// Cap is at most N pushes per user in a rolling window.
type Cap struct {
	N      int
	Window time.Duration
}

// String is the compact form, e.g. "3/24h", "1/10m", "2/7d".
func (c Cap) String() string { return strconv.Itoa(c.N) + "/" + windowString(c.Window) }

func windowString(w time.Duration) string {
	switch day := 24 * time.Hour; {
	case w%day == 0:
		return strconv.FormatInt(int64(w/day), 10) + "d"
	case w%time.Hour == 0:
		return strconv.FormatInt(int64(w/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64(w/time.Minute), 10) + "m"
}

var capForm = regexp.MustCompile(`^([0-9]{1,4})/([0-9]{1,5})([mhd])$`)

// ParseCap reads "N/W" where W is a whole number of minutes (m), hours (h) or days (d).
func ParseCap(s string) (Cap, error) {
	m := capForm.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Cap{}, fmt.Errorf("cap %q: want N/W like 3/24h (W in m, h or d)", s)
	}
	n, _ := strconv.Atoi(m[1])
	w, _ := strconv.Atoi(m[2])
	c := Cap{N: n, Window: time.Duration(w) * map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[3]]}
	switch {
	case c.N < 1 || c.N > MaxN:
		return Cap{}, fmt.Errorf("cap %q: N is %d, want 1 to %d", s, c.N, MaxN)
	case c.Window < MinWindow || c.Window > MaxWindow:
		return Cap{}, fmt.Errorf("cap %q: window is %s%s, want 1m to 30d", s, m[2], m[3])
	}
	return c, nil
}

// ParseCaps reads a list of caps separated by commas, e.g. "3/24h,1/10m". Two caps with one
// window are refused (which would count?), and so are more than MaxCapsPerGroup.
func ParseCaps(s string) ([]Cap, error) {
	var out []Cap
	seen := map[time.Duration]bool{}
	for _, part := range strings.Split(s, ",") {
		c, err := ParseCap(part)
		if err != nil {
			return nil, err
		}
		if seen[c.Window] {
			return nil, fmt.Errorf("caps %q: two caps with the window %s", s, windowString(c.Window))
		}
		seen[c.Window] = true
		out = append(out, c)
	}
	if len(out) > MaxCapsPerGroup {
		return nil, fmt.Errorf("caps %q: %d caps, at most %d", s, len(out), MaxCapsPerGroup)
	}
	return out, nil
}

var categoryForm = regexp.MustCompile(`^[a-z0-9_-]+$`)

// ValidCategory checks a category name: 1 to MaxCategoryLen characters of a-z, 0-9, - and _.
func ValidCategory(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("category is empty")
	case len(name) > MaxCategoryLen:
		return fmt.Errorf("category %.40q: %d characters, at most %d", name, len(name), MaxCategoryLen)
	case !categoryForm.MatchString(name):
		return fmt.Errorf("category %q: only a-z, 0-9, - and _", name)
	}
	return nil
}

// Config is a stack's caps and its categories' caps.
type Config struct {
	Stack      []Cap
	Categories map[string][]Cap
}

// ParseConfig reads the configuration string: groups separated by ";", the stack's caps
// first (possibly empty), then one group "category=caps" per category, e.g.
//
//	3/24h,1/10m; promo=1/1h; news=2/24h,1/1h
//
// The empty string means no caps. Each mistake is refused with what is wrong.
func ParseConfig(s string) (Config, error) {
	var c Config
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	groups := strings.Split(s, ";")
	if g := strings.TrimSpace(groups[0]); g != "" {
		if strings.Contains(g, "=") {
			return Config{}, fmt.Errorf("caps config: the stack's caps come first (%q is a category; start with \";\" for none)", g)
		}
		caps, err := ParseCaps(g)
		if err != nil {
			return Config{}, fmt.Errorf("caps config: stack: %w", err)
		}
		c.Stack = caps
	}
	for _, g := range groups[1:] {
		name, list, ok := strings.Cut(strings.TrimSpace(g), "=")
		if !ok {
			return Config{}, fmt.Errorf("caps config: group %q: want category=caps", strings.TrimSpace(g))
		}
		name = strings.TrimSpace(name)
		if err := ValidCategory(name); err != nil {
			return Config{}, fmt.Errorf("caps config: %w", err)
		}
		if _, dup := c.Categories[name]; dup {
			return Config{}, fmt.Errorf("caps config: category %q twice", name)
		}
		caps, err := ParseCaps(list)
		if err != nil {
			return Config{}, fmt.Errorf("caps config: category %s: %w", name, err)
		}
		if c.Categories == nil {
			c.Categories = map[string][]Cap{}
		}
		c.Categories[name] = caps
	}
	if len(c.Categories) > MaxCategories {
		return Config{}, fmt.Errorf("caps config: %d categories, at most %d", len(c.Categories), MaxCategories)
	}
	if total := c.totalN(); total > MaxTotalN {
		return Config{}, fmt.Errorf("caps config: the caps' N add up to %d, at most %d", total, MaxTotalN)
	}
	return c, nil
}

func (c Config) totalN() int {
	total := 0
	for _, r := range c.all() {
		total += r.N
	}
	return total
}

// String is the configuration in the form ParseConfig reads, categories by name.
func (c Config) String() string {
	groups := []string{join(c.Stack)}
	for _, name := range c.names() {
		groups = append(groups, name+"="+join(c.Categories[name]))
	}
	if len(groups) == 1 && groups[0] == "" {
		return ""
	}
	return strings.Join(groups, ";")
}

func join(caps []Cap) string {
	parts := make([]string, len(caps))
	for i, c := range caps {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}

func (c Config) names() []string {
	names := make([]string, 0, len(c.Categories))
	for name := range c.Categories {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Rule is a cap with the scope it counts in: the stack (Category "") or one category.
type Rule struct {
	Category string
	Cap
}

// String names the rule: "3/24h" for the stack's, "promo:1/1h" for a category's.
func (r Rule) String() string {
	if r.Category == "" {
		return r.Cap.String()
	}
	return r.Category + ":" + r.Cap.String()
}

// Rules are the caps that count a push of the category ("" for none): the stack's, then the
// category's. A category without caps of its own has only the stack's.
func (c Config) Rules(category string) []Rule {
	var out []Rule
	for _, cp := range c.Stack {
		out = append(out, Rule{Cap: cp})
	}
	if category != "" {
		for _, cp := range c.Categories[category] {
			out = append(out, Rule{Category: category, Cap: cp})
		}
	}
	return out
}

func (c Config) all() []Rule {
	out := c.Rules("")
	for _, name := range c.names() {
		out = append(out, c.Rules(name)[len(c.Stack):]...)
	}
	return out
}

// LongestWindow is the longest window of any rule (0 without caps): how long a user's count
// must be kept.
func (c Config) LongestWindow() time.Duration {
	var w time.Duration
	for _, r := range c.all() {
		w = max(w, r.Window)
	}
	return w
}

// Outcome is what became of a push.
type Outcome string

const (
	Counted        Outcome = "counted"         // admitted and counted now
	AlreadyCounted Outcome = "already-counted" // admitted: taken before (a retry), not counted twice
	Exempt         Outcome = "exempt"          // admitted: the push opted out of caps
	Uncapped       Outcome = "uncapped"        // admitted: no cap applies to it
	Capped         Outcome = "capped"          // refused by Decision.Cap
)

// Decision is the answer for one push.
type Decision struct {
	Outcome Outcome
	Cap     Rule // the cap that refused the push, when Outcome is Capped
}

// Admitted says whether the push may be sent.
func (d Decision) Admitted() bool { return d.Outcome != Capped }

// Store decides and counts, atomically, for one user. Take returns an error when it cannot
// decide (the table failed): nothing is known, and the caller decides what to do (the sender
// should fail the push so that it is retried, not send it uncapped).
type Store interface {
	Take(ctx context.Context, user, category, pushID string, now time.Time) (Decision, error)
}

// Admit is Take unless the push is exempt, which is admitted without touching the store.
func Admit(ctx context.Context, s Store, user, category, pushID string, exempt bool, now time.Time) (Decision, error) {
	if exempt {
		return Decision{Outcome: Exempt}, nil
	}
	return s.Take(ctx, user, category, pushID, now)
}

// Check decides from what is counted already: logs[i] holds, for rules[i], the time of each
// push counted (by key). dup says the push's key is counted already (it is admitted again);
// otherwise full is the index of the first rule with N pushes in (now−W, now], or −1.
func Check(rules []Rule, logs []map[string]time.Time, key string, now time.Time) (dup bool, full int) {
	for _, log := range logs {
		if _, ok := log[key]; ok {
			return true, -1
		}
	}
	for i, r := range rules {
		if InWindow(logs[i], r.Window, now) >= r.N {
			return false, i
		}
	}
	return false, -1
}

// InWindow counts the times in (now−w, now] — and any after now, counted by a clock ahead of
// this one.
func InWindow(log map[string]time.Time, w time.Duration, now time.Time) int {
	n := 0
	for _, t := range log {
		if !Expired(t, w, now) {
			n++
		}
	}
	return n
}

// Expired says a push counted at t no longer counts for a window w at now.
func Expired(t time.Time, w time.Duration, now time.Time) bool { return !t.After(now.Add(-w)) }
