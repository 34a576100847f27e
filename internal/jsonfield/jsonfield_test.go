package jsonfield_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/jsonfield"
)

func TestDecodeObjectKeepsTheDocumentsOrder(t *testing.T) {
	obj, err := jsonfield.DecodeObject([]byte(`{"b":1,"a":{"x":2},"b":3}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "a"}, obj.Keys)
	assert.Equal(t, `3`, string(obj.Members["b"]), "the last one wins, as in JSON.parse")
	assert.Equal(t, "a", obj.Unknown([]string{"b"}))
	assert.Equal(t, "", obj.Unknown([]string{"a", "b"}))
}

func TestDecodeObjectErrorsAreAboutTheDocument(t *testing.T) {
	for in, want := range map[string]string{
		``:                 "empty message",
		`null`:             "must be a JSON object",
		`{"a":1`:           "malformed JSON: unexpected end of input",
		`{"a":1} {}`:       "trailing data after the JSON object",
		"{\"a\":\"\xff\"}": "is not valid UTF-8",
	} {
		_, err := jsonfield.DecodeObject([]byte(in))
		assert.EqualError(t, err, want, in)
	}
}

func TestString(t *testing.T) {
	s, err := jsonfield.String([]byte(`"a\u00e9\ud83d\ude00"`))
	require.NoError(t, err)
	assert.Equal(t, "aé😀", s)
	for _, in := range []string{`null`, `1`, `{}`} {
		_, err := jsonfield.String([]byte(in))
		assert.EqualError(t, err, "must be a string", in)
	}
	for _, in := range []string{`"\u0000"`, `"\b"`, `"\ud800"`, `"\uffff"`} {
		_, err := jsonfield.String([]byte(in))
		assert.EqualError(t, err, jsonfield.SQSRefused, in)
	}
}

func TestIntegralNumbersAreIntegers(t *testing.T) {
	for _, in := range []string{"300", "300.0", "3e2", "3.0E2"} {
		n, ok := jsonfield.Integer([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, int64(300), n, in)
	}
	for _, in := range []string{"null", `"300"`, "300.5", "1e16"} {
		_, ok := jsonfield.Integer([]byte(in))
		assert.False(t, ok, in)
	}
}

func TestParseTimeIsTheStateMachinesRFC3339(t *testing.T) {
	for _, in := range []string{"2026-12-01T09:00:00Z", "2026-12-01T09:00:00.123+09:00"} {
		_, ok := jsonfield.ParseTime(in)
		assert.True(t, ok, in)
	}
	for _, in := range []string{"2026-12-01 09:00:00Z", "2026-12-01T09:00:00", "2026-02-30T09:00:00Z"} {
		_, ok := jsonfield.ParseTime(in)
		assert.False(t, ok, in)
	}
}

func TestQuoteIsJSON(t *testing.T) {
	assert.Equal(t, `"a\"b<&>é"`, jsonfield.Quote(`a"b<&>é`))
}
