// Command pushctl schedules and manages Delayed Push pushes from the command line: schedule,
// send, get, cancel, reschedule, pending, accuracy and redrive. `pushctl --help` lists them;
// it finds the stack by its name, or the local stack with --local.
package main

import "github.com/delayed-push/delayed-push/internal/pushctl"

func main() { pushctl.Main() }
