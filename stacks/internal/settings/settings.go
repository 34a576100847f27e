// Package settings declares every setting of Delayed Push once: its key in the delayedPush
// context object (stacks.Config), the construct's prop it becomes (delayedpush.Props), its
// default, limits and meaning, and the environment variable that carries it to a Lambda. The
// app's defaults and checks (stacks.Config), the construct's (delayedpush), the Lambdas'
// environment and the README's configuration table (Markdown) all read this table.
package settings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Setting is one key of the configuration.
type Setting struct {
	// Key is the key in the delayedPush context object, the JSON name of stacks.Config's field.
	Key string
	// Prop is the construct's prop it becomes: a field of delayedpush.Props, or of its Api or
	// Shopify props ("Api.DefaultDelay"); "" when only the app has it.
	Prop string
	// Default is the value when the key is left out: an int, string or bool; nil for none
	// (the zero value), and DefaultDoc says what that means.
	Default any
	// DefaultDoc is the README's default when it is not Default itself.
	DefaultDoc string
	// Min and Max are the limits of a whole number, both inclusive (when Max > 0); MinNote
	// and MaxNote say why, when it is not obvious.
	Min, Max         int
	MinNote, MaxNote string
	// Allowed are the only values a string (or whole number) may take.
	Allowed []string
	// Unit is what a whole number counts, for the construct's messages: "seconds", "days".
	Unit string
	// Env is the environment variable that carries the value to the Lambdas that use it.
	Env string
	// Check, when set, refuses a string that is not usable, saying why ("must be ..."): the
	// app's Config and the construct's props are checked by it alike.
	Check func(v string) error
	// Doc is the meaning, as the README's table shows it (Markdown).
	Doc string
}

// Int is Default as a whole number.
func (s *Setting) Int() int { return s.Default.(int) }

// String is Default as a string.
func (s *Setting) String() string { return s.Default.(string) }

// Ranged reports whether s is a whole number with limits.
func (s *Setting) Ranged() bool { return s.Max > 0 }

// InRange reports whether v is within the limits.
func (s *Setting) InRange(v int) bool { return v >= s.Min && v <= s.Max }

// Limits are the limits as messages write them: "from 0 (no limit) to 31532400 (365 days less
// an hour)"; unit, when given, follows the maximum (and a minimum with a note).
func (s *Setting) Limits(unit string) string {
	lo, hi := fmt.Sprint(s.Min), fmt.Sprint(s.Max)
	if unit != "" && s.MinNote != "" && s.Min != 0 {
		lo += " " + unit // a minimum with a note of its own reads as a phrase of its own
	}
	if s.MinNote != "" {
		lo += " (" + s.MinNote + ")"
	}
	if unit != "" {
		hi += " " + unit
	}
	if s.MaxNote != "" {
		hi += " (" + s.MaxNote + ")"
	}
	return "from " + lo + " to " + hi
}

// IsAllowed reports whether v is one of Allowed.
func (s *Setting) IsAllowed(v string) bool { return slices.Contains(s.Allowed, v) }

// OneOf is Allowed as messages write it: `"a" or "b"`, or `one of [1 3 5]`.
func (s *Setting) OneOf() string {
	if _, isInt := s.Default.(int); isInt {
		return "one of [" + strings.Join(s.Allowed, " ") + "]"
	}
	q := make([]string, len(s.Allowed))
	for i, a := range s.Allowed {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// ByKey is the setting of key, or nil.
func ByKey(key string) *Setting {
	for _, s := range All {
		if s.Key == key {
			return s
		}
	}
	return nil
}

// Markdown is the README's configuration table: one row per setting, in the order of All.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| key | default | limits | meaning |\n| --- | --- | --- | --- |\n")
	for _, s := range All {
		def := s.DefaultDoc
		if def == "" {
			def = "`" + fmt.Sprint(s.Default) + "`"
		}
		limits := "—"
		switch {
		case s.Ranged():
			limits = s.Limits("")
		case len(s.Allowed) > 0:
			limits = "`" + strings.Join(s.Allowed, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Key, def, limits, s.Doc)
	}
	return b.String()
}

// LogRetentions maps the retention periods CloudWatch Logs accepts, in days (LogRetentionDays'
// Allowed), to the CDK's values.
var LogRetentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// RemovalPolicies maps RemovalPolicy's Allowed values to the CDK's.
var RemovalPolicies = map[string]awscdk.RemovalPolicy{"retain": awscdk.RemovalPolicy_RETAIN, "destroy": awscdk.RemovalPolicy_DESTROY}

// The lines around the configuration table in README.md.
const (
	TableBegin = "<!-- settings-table:begin -->\n"
	TableEnd   = "<!-- settings-table:end -->"
)

// WithTable is readme with the lines between TableBegin and TableEnd replaced by Markdown.
func WithTable(readme string) (string, error) {
	before, rest, ok := strings.Cut(readme, TableBegin)
	if !ok {
		return "", fmt.Errorf("no %q line", strings.TrimSpace(TableBegin))
	}
	_, after, ok := strings.Cut(rest, TableEnd)
	if !ok {
		return "", fmt.Errorf("no %q line", TableEnd)
	}
	return before + TableBegin + Markdown() + TableEnd + after, nil
}
