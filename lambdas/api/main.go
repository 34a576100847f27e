// Command api is the HTTP API's Lambda (API Gateway HTTP API, payload format 2.0): its wiring
// is internal/apiapp, its routes internal/httpapi.
package main

import "github.com/delayed-push/delayed-push/internal/apiapp"

func main() { apiapp.Main() }
