// Package statemachines holds the Amazon States Language definitions of the product, embedded
// so that the construct finds them wherever this module is: in this repository, or in the
// read-only module cache of an app that imports it.
package statemachines

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"regexp"
	"strings"
)

//go:embed scheduler.asl.json
var schedulerASL string

// CheckSchedule is the scheduler's input check (check-schedule.jsonata), without its
// comments: the first problem of a schedule input as "invalid <field>: <reason>", or
// nothing. The same rules as schedule.Parse.
//
//go:embed check-schedule.jsonata
var checkScheduleSource string

// CheckSchedule is checkScheduleSource as the definition holds it: comments are dropped
// because Step Functions counts the definition's size, and because text in them could be
// read as code by tools that scan expressions for variables (the emulator does).
var CheckSchedule = strings.TrimSpace(comments.ReplaceAllString(checkScheduleSource, ""))

var comments = regexp.MustCompile(`(?s)/\*.*?\*/[ \t]*\n?`)

// Scheduler is the scheduler's definition (scheduler.asl.json) with CHECK_SCHEDULE replaced
// by CheckSchedule. "${PushQueueUrl}" is a definition substitution CloudFormation fills in.
var Scheduler = strings.ReplaceAll(schedulerASL, "CHECK_SCHEDULE", jsonStringContent(CheckSchedule))

// jsonStringContent is s escaped to sit inside a JSON string.
func jsonStringContent(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSpace(buf.String())
	return out[1 : len(out)-1]
}
