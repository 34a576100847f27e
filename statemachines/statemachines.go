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

// dueMillisSource is the due time of a checked input, in milliseconds (due-millis.jsonata).
//
//go:embed due-millis.jsonata
var dueMillisSource string

// CheckSchedule and DueMillis are the expressions as the definition holds them: comments are
// dropped because Step Functions counts the definition's size, and because text in them could
// be read as code by tools that scan expressions for variables (the emulator does); lines are
// joined because ASL validators accept an expression on one line only ("^{% .+ %}$").
var (
	CheckSchedule = oneLine(checkScheduleSource)
	DueMillis     = oneLine(dueMillisSource)
)

var (
	comments = regexp.MustCompile(`(?s)/\*.*?\*/`)
	newlines = regexp.MustCompile(`\s*\n\s*`)
)

// oneLine is a JSONata source without its comments, on one line. No string or regular
// expression of ours spans lines, so a line break is only ever layout.
func oneLine(src string) string {
	return strings.TrimSpace(newlines.ReplaceAllString(comments.ReplaceAllString(src, ""), " "))
}

// Scheduler is the scheduler's definition (scheduler.asl.json) with CHECK_SCHEDULE and
// DUE_MILLIS replaced by the expressions. "${PushQueueUrl}" is a definition substitution
// CloudFormation fills in.
var Scheduler = strings.NewReplacer(
	"CHECK_SCHEDULE", jsonStringContent(CheckSchedule),
	"DUE_MILLIS", jsonStringContent(DueMillis),
).Replace(schedulerASL)

// jsonStringContent is s escaped to sit inside a JSON string.
func jsonStringContent(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSpace(buf.String())
	return out[1 : len(out)-1]
}
