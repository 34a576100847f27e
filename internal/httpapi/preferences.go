package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/recipient"
)

// setPreferences reads {"timeZone": "Europe/Berlin", "quietHours": {"start": "22:00", "end":
// "07:00"}}: a member left out keeps what the user has, quietHours null removes them. It
// answers the preferences as stored.
func (h *Handler) setPreferences(ctx context.Context, req events.APIGatewayV2HTTPRequest, user string) answer {
	var rawZone, rawQuiet json.RawMessage
	if bad := h.object(req, map[string]*json.RawMessage{"timeZone": &rawZone, "quietHours": &rawQuiet}); bad != nil {
		return *bad
	}
	bad := func(field, format string, args ...any) answer {
		return fail(http.StatusBadRequest, CodeInvalidPrefs, field, "invalid "+field+": "+format, args...)
	}
	var r client.PreferencesRequest
	if rawZone != nil {
		if string(rawZone) == "null" || json.Unmarshal(rawZone, &r.TimeZone) != nil {
			return bad(recipient.FieldTimeZone, `must be a string, an IANA time zone like "Europe/Berlin"`)
		}
		if r.TimeZone == "" {
			// "" would read as "keep the zone": refuse it rather than do nothing silently.
			_, err := recipient.Zone("")
			return h.result(ctx, req, 0, nil, err)
		}
	}
	switch {
	case rawQuiet == nil:
	case string(rawQuiet) == "null":
		r.NoQuietHours = true
	default:
		obj, err := jsonfield.DecodeObject(rawQuiet)
		if err != nil {
			return bad(client.FieldQuietHours, `must be {"start": "HH:MM", "end": "HH:MM"} or null`)
		}
		for _, name := range obj.Keys {
			var dst *string
			switch name {
			case "start":
				dst = &r.QuietStart
			case "end":
				dst = &r.QuietEnd
			default:
				return fail(http.StatusBadRequest, CodeInvalidRequest, client.FieldQuietHours+"."+name, "unknown field %s", jsonfield.Quote(client.FieldQuietHours+"."+name))
			}
			if v := obj.Members[name]; string(v) == "null" || json.Unmarshal(v, dst) != nil {
				return bad(client.FieldQuietHours+"."+name, `must be a string, HH:MM like "22:00"`)
			}
		}
		if _, err := recipient.ParseQuietHours(r.QuietStart, r.QuietEnd); err != nil {
			return h.result(ctx, req, 0, nil, err)
		}
	}
	p, err := h.Preferences.SetPreferences(ctx, user, r)
	return h.result(ctx, req, http.StatusOK, client.UserPreferencesOf(user, p, h.Preferences.DefaultTimeZone()), err)
}
