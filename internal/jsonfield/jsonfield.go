// Package jsonfield reads the JSON of the contract's documents (a push, a schedule input, an
// HTTP API body) the way the scheduler's state machine reads them: one object a level deep
// with its members in the document's order, strings of characters SQS accepts, integers within
// ±2^53, RFC 3339 times. Its errors say what is wrong; the caller names the field.
package jsonfield

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Object is a JSON object decoded one level deep: its members, raw, and their names in the
// document's order.
type Object struct {
	Keys    []string
	Members map[string]json.RawMessage
}

// DecodeObject decodes b as exactly one JSON object. Its error (invalid UTF-8, malformed
// JSON, trailing data, anything but an object) is about the document as a whole.
func DecodeObject(b []byte) (Object, error) {
	if !utf8.Valid(b) {
		// encoding/json would turn the bad bytes into U+FFFD without a word.
		return Object{}, errors.New("is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return Object{}, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Object{}, errors.New("must be a JSON object")
	}
	obj := Object{Members: map[string]json.RawMessage{}}
	obj, err = members(dec, obj)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the object was opened: its end is missing
		}
		return Object{}, jsonError(err)
	}
	// A second value (or garbage) after the object means the producer sent something other
	// than one document; accepting the first part would silently drop the rest.
	if _, err := dec.Token(); err != io.EOF {
		return Object{}, errors.New("trailing data after the JSON object")
	}
	return obj, nil
}

// members reads an object's members and its closing brace.
func members(dec *json.Decoder, obj Object) (Object, error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return obj, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return obj, err
		}
		if _, dup := obj.Members[name]; !dup {
			obj.Keys = append(obj.Keys, name)
		}
		obj.Members[name] = raw // the last one wins, as in JSON.parse
	}
	_, err := dec.Token() // the closing brace
	return obj, err
}

// jsonError words encoding/json's errors.
func jsonError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("empty message")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of input")
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at offset %d: %s", syn.Offset, syn.Error())
	}
	return fmt.Errorf("malformed JSON: %v", err)
}

// Unknown returns the first member (in the document's order) not in known, or "".
func (o Object) Unknown(known []string) string {
	for _, k := range o.Keys {
		if !slices.Contains(known, k) {
			return k
		}
	}
	return ""
}

// String reads a string of the contract: a JSON string (null is not one: absent is the way to
// leave a field out) holding only characters SQS accepts.
func String(raw json.RawMessage) (string, error) {
	var s string
	if string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
		return "", errors.New("must be a string")
	}
	if !sqsSafeLiteral(raw) {
		return "", errors.New(SQSRefused)
	}
	return s, nil
}

// maxInteger bounds the integers of the contract: beyond 2^53, JSON parsers disagree.
const maxInteger = 1 << 53

// Integer reads a JSON number with an integral value within ±2^53, as every JSON parser
// reads it the same (300, 300.0 and 3e2 are 300).
func Integer(raw json.RawMessage) (int64, bool) {
	var f float64
	if string(raw) == "null" || json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || math.Abs(f) > maxInteger {
		return 0, false
	}
	return int64(f), true
}

// rfc3339 is the form of every timestamp of the contract: what Step Functions and Go both read.
var rfc3339 = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

// ParseTime reads an RFC 3339 timestamp ("2026-12-01T09:00:00Z", with an optional fraction
// and a Z or a ±hh:mm offset), as the state machine does.
func ParseTime(s string) (time.Time, bool) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// Quote writes s as a JSON string, as the state machine's causes quote a value, so an error
// reads the same from Go and from Step Functions.
func Quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}
