package client

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/delayed-push/delayed-push/push"
)

// MaxKeyLen is the longest key, in characters: a key is the push's id.
const MaxKeyLen = push.MaxIDLen

// directName is a key used as its execution name as it is: letters, digits, "_" and "-", up
// to 64 characters, so that "--" and a revision number still fit Step Functions' 80.
var directName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

var nameEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ExecutionName is the Step Functions execution name of revision rev (1 or more) of the push
// with key. The mapping is deterministic and documented (docs/CONTRACTS.md, "Keys and
// revisions"):
//
//   - a key of 1 to 64 letters, digits, "_" and "-" without "--" is its own name;
//   - any other key is "k--" and the first 52 characters of the lower-case base32 of its
//     SHA-256 (260 bits: no two keys meet in practice);
//   - revision 2 and later append "--" and the revision: "order-42--2".
//
// Names with "--" come only from the mapping, so a direct key never meets a mapped one.
func ExecutionName(key string, rev int) string {
	name := key
	if !directName.MatchString(key) || strings.Contains(key, "--") {
		sum := sha256.Sum256([]byte(key))
		name = "k--" + strings.ToLower(nameEncoding.EncodeToString(sum[:]))[:52]
	}
	if rev > 1 {
		name += "--" + strconv.Itoa(rev)
	}
	return name
}

// ValidateKey checks a caller's key: 1 to 256 characters of valid UTF-8 without control
// characters. The key becomes the push's id, which every FCM message carries (data.pushId).
func ValidateKey(key string) error {
	switch {
	case key == "":
		return &push.InvalidError{Field: "key", Reason: "is required"}
	case !utf8.ValidString(key):
		return &push.InvalidError{Field: "key", Reason: "is not valid UTF-8"}
	case utf8.RuneCountInString(key) > MaxKeyLen:
		return &push.InvalidError{Field: "key", Reason: fmt.Sprintf("is %d characters, at most %d", utf8.RuneCountInString(key), MaxKeyLen)}
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return &push.InvalidError{Field: "key", Reason: fmt.Sprintf("has a control character (%U)", r)}
		}
	}
	return nil
}
