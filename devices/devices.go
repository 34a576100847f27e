// Package devices is the device registry's lifecycle: register a device token for a user
// (AWS's documented endpoint management flow for SNS mobile push), move a token to the user
// who registered it last, list and unregister devices, and mark a device disabled when SNS
// reports its endpoint dead. The rules are written down in docs/CONTRACTS.md ("Devices").
//
// A device is one SNS platform endpoint. Its id is the endpoint's id, the last part of its
// ARN: it stays the same when the token is refreshed and changes when the token moves to
// another user, because a move deletes the endpoint and creates a new one.
package devices

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/delayed-push/delayed-push/recipient"
)

// Platforms a device can be registered on. A device's platform is recorded with it, so that
// APNs endpoints (another platform application) can be added without a data migration.
const (
	// PlatformFCM: Firebase Cloud Messaging (HTTP v1), for Android, iOS and web apps.
	PlatformFCM = "FCM"
)

// Platforms lists the supported platforms.
var Platforms = []string{PlatformFCM}

// Limits of a registration.
const (
	MaxTokenLength  = 4096 // SNS's limit on a platform token
	MaxUserIDLength = 256
)

// Errors to test with errors.Is.
var (
	// ErrNotFound: no device has this id (or the user has none).
	ErrNotFound = errors.New("no such device")
	// ErrBusy: other registrations of the same token or device kept changing it; try again.
	ErrBusy = errors.New("the device was changed by another call at the same moment")
)

// InvalidError is a registration the registry refuses, naming the field.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Registration is a device token reported by an app for a user.
type Registration struct {
	UserID string `json:"userId"`
	Token  string `json:"token"`
	// Platform is "FCM" (the default; any case).
	Platform string `json:"platform,omitempty"`
	// DeviceID is the id an earlier registration of this app install returned, if the app
	// kept it: with it, a refreshed token updates the same device (AWS's flow with a stored
	// endpoint ARN). Without it, the token finds its device.
	DeviceID string `json:"deviceId,omitempty"`
	// TimeZone is the IANA time zone the device reports (optional). It becomes the user's zone
	// unless the user set one: a zone the user set wins over one a device reported.
	TimeZone string `json:"timeZone,omitempty"`
}

// Device is a registered device.
type Device struct {
	ID          string    `json:"deviceId"`
	UserID      string    `json:"userId"`
	Platform    string    `json:"platform"`
	EndpointARN string    `json:"endpointArn"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"createdAt"`
	LastSeenAt  time.Time `json:"lastSeenAt"`
	// DisabledReason and DisabledAt say why and when pushes stopped going to it.
	DisabledReason string     `json:"disabledReason,omitempty"`
	DisabledAt     *time.Time `json:"disabledAt,omitempty"`
}

// Outcomes of a registration.
const (
	Registered = "registered" // a device new to the registry
	Unchanged  = "unchanged"  // the same token was registered before: nothing changed
	Refreshed  = "refreshed"  // the device's token changed, or it was disabled: updated and enabled
	Recreated  = "recreated"  // its endpoint had been deleted: a new one was created
	Moved      = "moved"      // the token belonged to another user: it is this user's now
)

// Result is the answer to Register.
type Result struct {
	Device
	Outcome string `json:"outcome"`
	// PreviousDeviceID is the id the device had before a move or a re-creation.
	PreviousDeviceID string `json:"previousDeviceId,omitempty"`
}

var (
	tokenChars    = regexp.MustCompile(`^[A-Za-z0-9:_.\-]+$`)
	deviceIDChars = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
)

// Validate checks a registration and returns it with its platform in canonical form. The
// first problem is an *InvalidError.
func Validate(r Registration) (Registration, error) {
	switch {
	case r.UserID == "":
		return r, &InvalidError{"userId", "missing: the user the device belongs to is required"}
	case len(r.UserID) > MaxUserIDLength:
		return r, &InvalidError{"userId", fmt.Sprintf("%d bytes, over the limit of %d", len(r.UserID), MaxUserIDLength)}
	case strings.TrimSpace(r.UserID) != r.UserID:
		return r, &InvalidError{"userId", "must not start or end with white space"}
	case strings.ContainsFunc(r.UserID, unicode.IsControl) || !utf8.ValidString(r.UserID):
		return r, &InvalidError{"userId", "must be valid UTF-8 without control characters"}
	case r.Token == "":
		return r, &InvalidError{"token", "missing: the device's registration token is required"}
	case len(r.Token) > MaxTokenLength:
		return r, &InvalidError{"token", fmt.Sprintf("%d bytes, over the limit of %d", len(r.Token), MaxTokenLength)}
	case !tokenChars.MatchString(r.Token):
		return r, &InvalidError{"token", "not an FCM registration token: only letters, digits and : _ . - are allowed"}
	case r.DeviceID != "" && !deviceIDChars.MatchString(r.DeviceID):
		return r, &InvalidError{"deviceId", fmt.Sprintf("%q is not a device id (an id Register returned)", r.DeviceID)}
	}
	if r.TimeZone != "" {
		if _, err := recipient.Zone(r.TimeZone); err != nil {
			var ie *recipient.InvalidError
			errors.As(err, &ie)
			return r, &InvalidError{ie.Field, ie.Reason}
		}
	}
	p, err := Platform(r.Platform)
	if err != nil {
		return r, err
	}
	r.Platform = p
	return r, nil
}

// Platform returns the canonical name of a platform ("" is FCM), or an *InvalidError.
func Platform(name string) (string, error) {
	if name == "" {
		return PlatformFCM, nil
	}
	for _, p := range Platforms {
		if strings.EqualFold(name, p) {
			return p, nil
		}
	}
	return "", &InvalidError{"platform", fmt.Sprintf("unknown platform %q: supported: %s", name, strings.Join(Platforms, ", "))}
}

// ValidateUserID checks a user id given alone (listing, unregistering all).
func ValidateUserID(userID string) error {
	_, err := Validate(Registration{UserID: userID, Token: "x"})
	return err
}

// ValidateDeviceID checks a device id given alone.
func ValidateDeviceID(id string) error {
	if !deviceIDChars.MatchString(id) {
		return &InvalidError{"deviceId", fmt.Sprintf("%q is not a device id (an id Register returned)", id)}
	}
	return nil
}

// IDOf is a device's id: the last part of its endpoint ARN
// (arn:aws:sns:REGION:ACCOUNT:endpoint/GCM/APP/ID).
func IDOf(endpointARN string) string {
	return endpointARN[strings.LastIndexByte(endpointARN, '/')+1:]
}

// EndpointAttributes are what SNS holds for an endpoint.
type EndpointAttributes struct {
	Token   string
	Enabled bool
}

// Endpoints is SNS's side of a device: the platform endpoints of one platform application.
type Endpoints interface {
	// Create returns the endpoint of token, creating it if there is none. SNS answers an
	// existing token with its endpoint; when that endpoint has other attributes SNS refuses
	// with InvalidParameter naming it, and Create returns the endpoint it names.
	Create(ctx context.Context, token string) (endpointARN string, err error)
	// Attributes reads an endpoint; found is false when it does not exist (deleted).
	Attributes(ctx context.Context, endpointARN string) (attrs EndpointAttributes, found bool, err error)
	// Enable sets the endpoint's token and enables it.
	Enable(ctx context.Context, endpointARN, token string) error
	// Delete deletes the endpoint (deleting a deleted one is not an error).
	Delete(ctx context.Context, endpointARN string) error
}

// Owner is who owns a device: one row per device id, which serializes registrations.
type Owner struct {
	DeviceID    string
	UserID      string // "" when Retired
	EndpointARN string
	Platform    string
	CreatedAt   time.Time
	// Retired: the device's endpoint was deleted (the token moved, the device was
	// unregistered, or it was found deleted and replaced). The row stays as a tombstone so
	// that the id can never be owned again: without it, "no owner row" would mean both "new"
	// and "deleted", and a registration that found the endpoint just before a move deleted it
	// would take the dead id as new and list it enabled, beside the token's real owner.
	Retired bool
}

// ErrRace is returned by a Store when an owner it was told to expect changed meanwhile, or
// the device was retired.
var ErrRace = errors.New("device owner changed meanwhile")

// Store is the registry in DynamoDB: the owners table (one row per device) and the devices
// table (one row per user and endpoint, what the sender reads).
type Store interface {
	// Owner reads the owner row of a device, consistently; a retired one is found, Retired.
	Owner(ctx context.Context, deviceID string) (Owner, bool, error)
	// Save writes d's owner row (new, or already d's user's, and not retired) and its device
	// row whole, and retires prev (a device d replaces, whose endpoint is deleted) in the same
	// transaction. ErrRace if an owner changed meanwhile or d's device is retired.
	Save(ctx context.Context, d Device, prev *Owner) error
	// Retire deletes the device row of a device whose endpoint is deleted and turns its owner
	// row into a tombstone (if the row is o.UserID's, absent or retired already). ErrRace if
	// another user owns it.
	Retire(ctx context.Context, o Owner) error
	// List returns a user's device rows, consistently.
	List(ctx context.Context, userID string) ([]Device, error)
	// Disable marks a user's device row disabled with a reason; false when there is no row.
	Disable(ctx context.Context, userID, endpointARN, reason string, at time.Time) (bool, error)
}

// Zones records the time zone a device reported for its user, unless the user set one
// (awsadapters.Preferences).
type Zones interface {
	SetDeviceZone(ctx context.Context, userID, zone string) error
}

// Registry runs the lifecycle on its ports. Zones is needed only by registrations that carry
// a time zone.
type Registry struct {
	Endpoints Endpoints
	Store     Store
	Zones     Zones
	Now       func() time.Time // nil: time.Now
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}
