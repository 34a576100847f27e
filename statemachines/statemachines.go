// Package statemachines holds the Amazon States Language definitions of the product, embedded
// so that the construct finds them wherever this module is: in this repository, or in the
// read-only module cache of an app that imports it.
package statemachines

import _ "embed"

// Scheduler is the scheduler's definition (scheduler.asl.json). "${PushQueueUrl}" is a
// definition substitution CloudFormation fills in.
//
//go:embed scheduler.asl.json
var Scheduler string
