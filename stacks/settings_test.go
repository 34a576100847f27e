package stacks

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/apiapp"
	"github.com/delayed-push/delayed-push/internal/senderapp"
	"github.com/delayed-push/delayed-push/stacks/internal/settings"
)

// Every key of Config is in the settings table, and every setting is a key of Config.
func TestSettingsTableHasEveryConfigKey(t *testing.T) {
	var c Config
	var keys []string
	for key := range configFields(&c) {
		keys = append(keys, key)
		assert.NotNil(t, settings.ByKey(key), "Config key %q is not in the settings table", key)
	}
	for _, st := range settings.All {
		assert.Contains(t, keys, st.Key, "setting %q is no key of Config", st.Key)
		assert.NotEmpty(t, st.Doc, "setting %q has no meaning", st.Key)
	}
	assert.Len(t, settings.All, len(keys))
}

// One setting, one environment variable: the HTTP API and the sender read defaultTimeZone under
// the same name.
func TestDefaultTimeZoneIsOneVariable(t *testing.T) {
	assert.Equal(t, apiapp.EnvDefaultTimeZone, senderapp.EnvDefaultTimeZone)
	assert.Equal(t, senderapp.EnvDefaultTimeZone, settings.DefaultTimeZone.Env)
}

// DefaultConfig is the table's defaults, and they pass the table's own limits.
func TestSettingsDefaultsAreValid(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	fields := configFields(&c)
	for _, st := range settings.All {
		if st.Default != nil {
			assert.Equal(t, st.Default, fields[st.Key].Interface(), st.Key)
		}
		if st.Ranged() && st != settings.VisibilityTimeoutSeconds {
			assert.True(t, st.InRange(st.Int()), "%s: default %v outside %s", st.Key, st.Default, st.Limits(""))
		}
		if len(st.Allowed) > 0 {
			assert.Contains(t, st.Allowed, fmt.Sprint(st.Default), st.Key)
		}
	}
	var days []string
	for _, d := range slices.Sorted(maps.Keys(settings.LogRetentions)) {
		days = append(days, fmt.Sprint(d))
	}
	assert.Equal(t, days, settings.LogRetentionDays.Allowed, "logRetentionDays' values are those of settings.LogRetentions")
}

// README.md's configuration table is the generated one: no key missing, no default or limit
// the code does not have. Regenerate it with `go run ./stacks/cmd/settings-table -w README.md`.
func TestReadmeSettingsTableIsGenerated(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	want, err := settings.WithTable(string(readme))
	require.NoError(t, err, "README.md marks its configuration table")
	assert.Equal(t, want, string(readme), "README.md's configuration table differs from the settings table: run go run ./stacks/cmd/settings-table -w README.md")
}
