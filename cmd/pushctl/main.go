// Command pushctl schedules and manages Delayed Push pushes from the command line: schedule,
// send, get, cancel, reschedule, pending, accuracy, redrive and devices. `pushctl --help` lists
// them; it finds the stack by its name, or the local stack with --local. The commands are in
// internal/pushctl.
package main

import "github.com/delayed-push/delayed-push/internal/pushctl"

func main() { pushctl.Main() }
