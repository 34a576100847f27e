// Command deviceevents is the Lambda that reads SNS's application events (endpoint disabled,
// deleted, permanent delivery failure) from the device events queue and marks those devices
// disabled in the registry. The wiring is in internal/deviceeventsapp.
package main

import "github.com/delayed-push/delayed-push/internal/deviceeventsapp"

func main() { deviceeventsapp.Main() }
