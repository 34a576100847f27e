package caps

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfigReadsTheCompactForm(t *testing.T) {
	c, err := ParseConfig(" 3/24h, 1/10m ; promo=1/1h ; news-2_b = 2/7d,1/90m")
	require.NoError(t, err)
	assert.Equal(t, []Cap{{3, 24 * time.Hour}, {1, 10 * time.Minute}}, c.Stack)
	assert.Equal(t, map[string][]Cap{
		"promo":    {{1, time.Hour}},
		"news-2_b": {{2, 7 * 24 * time.Hour}, {1, 90 * time.Minute}},
	}, c.Categories)
	assert.Equal(t, "3/1d,1/10m;news-2_b=2/7d,1/90m;promo=1/1h", c.String(), "canonical: largest whole unit, categories by name")
	again, err := ParseConfig(c.String())
	require.NoError(t, err)
	assert.Equal(t, c, again, "String reads back")

	for s, want := range map[string]Config{
		"":               {},
		"  ":             {},
		"1/1m":           {Stack: []Cap{{1, time.Minute}}},
		";promo=100/30d": {Categories: map[string][]Cap{"promo": {{100, 30 * 24 * time.Hour}}}},
	} {
		got, err := ParseConfig(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
		assert.Equal(t, strings.TrimSpace(s), got.String(), s)
	}
}

func TestParseConfigRefusesNamingTheMistake(t *testing.T) {
	for s, want := range map[string]string{
		"0/24h":                                 `N is 0, want 1 to 100`,
		"101/24h":                               `N is 101, want 1 to 100`,
		"3/0m":                                  `window is 0m, want 1m to 30d`,
		"3/31d":                                 `window is 31d, want 1m to 30d`,
		"3/721h":                                `window is 721h, want 1m to 30d`,
		"3/30s":                                 `want N/W like 3/24h`,
		"3/1.5h":                                `want N/W like 3/24h`,
		"-3/24h":                                `want N/W like 3/24h`,
		"3 per day":                             `want N/W like 3/24h`,
		"3/24h,":                                `cap "": want N/W`,
		"3/24h,2/1d":                            `two caps with the window 1d`,
		"1/1m,1/2m,1/3m,1/4m,1/5m":              `5 caps, at most 4`,
		"promo=1/1h":                            `the stack's caps come first`,
		"3/24h;promo":                           `group "promo": want category=caps`,
		";Promo=1/1h":                           `category "Promo": only a-z, 0-9, - and _`,
		";pro mo=1/1h":                          `category "pro mo": only a-z`,
		";=1/1h":                                `category is empty`,
		";" + strings.Repeat("a", 33) + "=1/1h": `33 characters, at most 32`,
		";a=1/1h;a=2/1h":                        `category "a" twice`,
		";a=":                                   `category a: cap "": want N/W`,
		"100/1d;a=100/1h;b=1/1h":                `add up to 201, at most 200`,
	} {
		_, err := ParseConfig(s)
		assert.ErrorContains(t, err, want, s)
	}
	var many []string
	for i := 0; i < 17; i++ {
		many = append(many, string(rune('a'+i))+"=1/1h")
	}
	_, err := ParseConfig(";" + strings.Join(many, ";"))
	assert.ErrorContains(t, err, "17 categories, at most 16")
}

func TestRulesAreTheStacksThenTheCategorys(t *testing.T) {
	c, err := ParseConfig("3/24h,1/10m;promo=1/1h")
	require.NoError(t, err)
	stack := []Rule{{Cap: Cap{3, 24 * time.Hour}}, {Cap: Cap{1, 10 * time.Minute}}}
	assert.Equal(t, stack, c.Rules(""))
	assert.Equal(t, stack, c.Rules("news"), "a category without caps has only the stack's")
	assert.Equal(t, append(stack, Rule{"promo", Cap{1, time.Hour}}), c.Rules("promo"))
	assert.Equal(t, "promo:1/1h", c.Rules("promo")[2].String())
	assert.Equal(t, "3/1d", c.Rules("promo")[0].String())
	assert.Equal(t, 24*time.Hour, c.LongestWindow())
	assert.Zero(t, Config{}.LongestWindow())
}

func TestCheckCountsARollingWindow(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	rules := []Rule{{Cap: Cap{2, time.Hour}}, {Category: "promo", Cap: Cap{1, 10 * time.Minute}}}
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	for _, c := range []struct {
		name string
		logs []map[string]time.Time
		key  string
		dup  bool
		full int
	}{
		{"empty", []map[string]time.Time{{}, {}}, "p", false, -1},
		{"one of two", []map[string]time.Time{{"a": at(59 * time.Minute)}, {}}, "p", false, -1},
		{"two of two", []map[string]time.Time{{"a": at(59 * time.Minute), "b": at(time.Second)}, {}}, "p", false, 0},
		{"exactly W ago no longer counts", []map[string]time.Time{{"a": at(time.Hour), "b": at(time.Second)}, {}}, "p", false, -1},
		{"a time ahead of this clock counts", []map[string]time.Time{{"a": now.Add(time.Minute), "b": at(time.Second)}, {}}, "p", false, 0},
		{"the category's cap", []map[string]time.Time{{"a": at(time.Minute)}, {"a": at(time.Minute)}}, "p", false, 1},
		{"the first full rule is named", []map[string]time.Time{{"a": at(time.Minute), "b": at(time.Minute)}, {"a": at(time.Minute)}}, "p", false, 0},
		{"counted before: admitted again even when full", []map[string]time.Time{{"p": at(time.Minute), "b": at(time.Minute)}, {"p": at(time.Minute)}}, "p", true, -1},
		{"counted before, pruned from a shorter window", []map[string]time.Time{{"p": at(30 * time.Minute)}, {}}, "p", true, -1},
	} {
		dup, full := Check(rules, c.logs, c.key, now)
		assert.Equal(t, c.dup, dup, c.name)
		assert.Equal(t, c.full, full, c.name)
	}
}

type countingStore struct{ calls int }

func (s *countingStore) Take(context.Context, string, string, string, time.Time) (Decision, error) {
	s.calls++
	return Decision{Outcome: Counted}, nil
}

func TestAnExemptPushIsNeverTaken(t *testing.T) {
	s := &countingStore{}
	d, err := Admit(context.Background(), s, "u", "", "p", true, time.Now())
	require.NoError(t, err)
	assert.Equal(t, Decision{Outcome: Exempt}, d)
	assert.True(t, d.Admitted())
	assert.Zero(t, s.calls)
	d, err = Admit(context.Background(), s, "u", "", "p", false, time.Now())
	require.NoError(t, err)
	assert.Equal(t, Counted, d.Outcome)
	assert.Equal(t, 1, s.calls)
	assert.False(t, Decision{Outcome: Capped}.Admitted())
}
