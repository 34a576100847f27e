package jsonfield

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// SQSRefused is the reason a string holding a character SQS refuses is invalid: the push
// would be accepted now and fail at SendMessage when due (the state machine's words too).
const SQSRefused = "holds a character SQS refuses (allowed: tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF)"

// sqsAllowed is SQS's set of message characters (#x9 | #xA | #xD | #x20-#xD7FF |
// #xE000-#xFFFD | #x10000-#x10FFFF).
func sqsAllowed(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= utf8.MaxRune)
}

// SQSSafe reports whether s holds only characters SQS accepts (invalid UTF-8 is for the
// caller to check apart, with its own words).
func SQSSafe(s string) bool {
	for _, r := range s {
		if !sqsAllowed(r) {
			return false
		}
	}
	return true
}

// SQSSafeKeys tells, for each key of the JSON object raw (valid JSON), whether its literal
// holds only characters SQS accepts: the decoded key cannot tell (see sqsSafeLiteral).
func SQSSafeKeys(raw []byte) map[string]bool {
	safe := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return safe
	}
	for dec.More() {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return safe
		}
		k, _ := tok.(string)
		lit := bytes.TrimLeft(raw[from:dec.InputOffset()], ", \t\r\n")
		safe[k] = sqsSafeLiteral(lit) // a repeated key: the last one counts, as its value does
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return safe
		}
	}
	return safe
}

// sqsSafeLiteral reports whether the JSON string literal lit (with its quotes, already known
// to be valid JSON) holds only characters SQS accepts. It reads the escapes itself:
// encoding/json turns an unpaired surrogate escape ("\ud800") into U+FFFD without a word.
func sqsSafeLiteral(lit []byte) bool {
	if len(lit) < 2 {
		return false
	}
	for i, end := 1, len(lit)-1; i < end; {
		if lit[i] != '\\' {
			r, n := utf8.DecodeRune(lit[i:end])
			if (r == utf8.RuneError && n == 1) || !sqsAllowed(r) {
				return false
			}
			i += n
			continue
		}
		switch lit[i+1] {
		case 'b', 'f': // U+0008, U+000C
			return false
		case 'u':
			r := hex4(lit[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by a low one is a character.
				if r >= 0xDC00 || i+6 > end || lit[i] != '\\' || lit[i+1] != 'u' {
					return false
				}
				if low := hex4(lit[i+2 : i+6]); low < 0xDC00 || low > 0xDFFF {
					return false
				}
				i += 6
				continue
			}
			if !sqsAllowed(r) {
				return false
			}
		default: // \" \\ \/ \n \r \t
			i += 2
		}
	}
	return true
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b), 16, 32) // valid JSON: four hex digits
	return rune(n)
}
