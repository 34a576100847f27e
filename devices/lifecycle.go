package devices

import (
	"context"
	"errors"
	"fmt"
)

// raceRetries is how often Register starts over when another registration of the same token
// or device changed its owner between the read and the write.
const raceRetries = 3

// Register registers reg's token for reg's user and returns the device. It follows AWS's
// endpoint management flow: find the endpoint (the app's own device, or the token's), create
// it if it was deleted, set the token and enable it if it changed or was disabled. Then:
//   - a token new to the registry becomes the user's device;
//   - the same token registered again by the same user changes nothing (Unchanged);
//   - a token another user holds moves to this user: its endpoint is deleted first, so that
//     nothing published for the old user from that moment on can reach the device, and a new
//     endpoint is created for this user (the device gets a new id).
func (r *Registry) Register(ctx context.Context, reg Registration) (Result, error) {
	reg, err := Validate(reg)
	if err != nil {
		return Result{}, err
	}
	if reg.TimeZone != "" && r.Zones == nil {
		return Result{}, errNoZones
	}
	for attempt := 0; attempt < raceRetries; attempt++ {
		res, err := r.register(ctx, reg)
		if errors.Is(err, ErrRace) {
			continue
		}
		if err == nil && reg.TimeZone != "" {
			// After the device: a retry of a registration whose zone failed registers
			// nothing new (Unchanged) and records the zone.
			if err := r.Zones.SetDeviceZone(ctx, reg.UserID, reg.TimeZone); err != nil {
				return res, fmt.Errorf("device %s registered; recording its time zone: %w", res.ID, err)
			}
		}
		return res, err
	}
	return Result{}, fmt.Errorf("registering a device of user %q: %w: try again", reg.UserID, ErrBusy)
}

// errNoZones: a registration carries a time zone, and the registry has nowhere to keep it.
var errNoZones = errors.New("a registration with a time zone needs the preferences table (Registry.Zones)")

func (r *Registry) register(ctx context.Context, reg Registration) (Result, error) {
	var own *Owner // the device the app says it is, when it is this user's
	if reg.DeviceID != "" {
		o, found, err := r.Store.Owner(ctx, reg.DeviceID)
		if err != nil {
			return Result{}, fmt.Errorf("reading device %s: %w", reg.DeviceID, err)
		}
		if found && !o.Retired && o.UserID == reg.UserID {
			own = &o
		}
		// Another user's id, a retired or an unknown one: the token finds its device (and
		// moves it).
	}
	outcome := ""
	var prev *Owner
	arn := ""
	if own != nil {
		arn = own.EndpointARN
	} else {
		var err error
		if arn, err = r.Endpoints.Create(ctx, reg.Token); err != nil {
			return Result{}, fmt.Errorf("creating the platform endpoint: %w", err)
		}
	}
	attrs, found, err := r.Endpoints.Attributes(ctx, arn)
	if err != nil {
		return Result{}, fmt.Errorf("reading platform endpoint %s: %w", arn, err)
	}
	if !found {
		// Deleted (by SNS, by hand, or by a concurrent move): a new endpoint for the token.
		if own != nil {
			prev = own
		}
		if arn, err = r.Endpoints.Create(ctx, reg.Token); err != nil {
			return Result{}, fmt.Errorf("creating the platform endpoint again: %w", err)
		}
		if attrs, found, err = r.Endpoints.Attributes(ctx, arn); err != nil || !found {
			if err == nil {
				return Result{}, fmt.Errorf("platform endpoint %s vanished as it was created: %w", arn, ErrRace)
			}
			return Result{}, fmt.Errorf("reading platform endpoint %s: %w", arn, err)
		}
		outcome = Recreated
	}
	if attrs.Token != reg.Token || !attrs.Enabled {
		if err := r.Endpoints.Enable(ctx, arn, reg.Token); err != nil {
			return Result{}, r.enableFailed(ctx, arn, err)
		}
		if outcome == "" {
			outcome = Refreshed
		}
	}

	now := r.now()
	d := Device{ID: IDOf(arn), UserID: reg.UserID, Platform: reg.Platform, EndpointARN: arn, Enabled: true,
		CreatedAt: now, LastSeenAt: now}
	o, owned, err := r.Store.Owner(ctx, d.ID)
	if err != nil {
		return Result{}, fmt.Errorf("reading device %s: %w", d.ID, err)
	}
	switch {
	case owned && o.Retired:
		// A move or an unregistration deleted the endpoint since SNS gave it to us: it is
		// dead, and the token has another endpoint now (or will have).
		return Result{}, fmt.Errorf("platform endpoint %s was deleted by another call meanwhile: %w", arn, ErrRace)
	case !owned:
		if outcome == "" {
			outcome = Registered
		}
	case o.UserID == reg.UserID:
		d.CreatedAt = o.CreatedAt
		if outcome == "" {
			outcome = Unchanged
		}
	default:
		// The token is another user's. Delete its endpoint before anything else: whatever the
		// old user's pushes hold from now on is a dead ARN. Then a fresh endpoint for this user.
		if err := r.Endpoints.Delete(ctx, arn); err != nil {
			return Result{}, fmt.Errorf("deleting platform endpoint %s of the token's previous user: %w", arn, err)
		}
		fresh, err := r.Endpoints.Create(ctx, reg.Token)
		if err != nil {
			return Result{}, fmt.Errorf("creating the platform endpoint: %w", err)
		}
		if fresh == arn {
			return Result{}, r.retireAfter(ctx, o, fmt.Errorf("SNS answered with platform endpoint %s, deleted a moment ago: %w", arn, ErrRace))
		}
		if prev != nil {
			// This user's own device, found deleted, goes too (the answer names the moved one).
			if err := r.Store.Retire(ctx, *prev); err != nil {
				return Result{}, r.retireAfter(ctx, o, fmt.Errorf("removing device %s, found deleted: %w", prev.DeviceID, err))
			}
		}
		d.ID, d.EndpointARN = IDOf(fresh), fresh
		prev, outcome = &o, Moved
	}
	if err := r.Store.Save(ctx, d, prev); err != nil {
		err = fmt.Errorf("saving device %s: %w", d.ID, err)
		if prev != nil {
			return Result{}, r.retireAfter(ctx, *prev, err)
		}
		return Result{}, err
	}
	res := Result{Device: d, Outcome: outcome}
	if prev != nil {
		res.PreviousDeviceID = prev.DeviceID
	}
	return res, nil
}

// enableFailed is the error of an Enable that failed: ErrRace when the endpoint is gone (a
// concurrent move or unregistration deleted it after it was read), so that Register starts
// over with the token's live endpoint.
func (r *Registry) enableFailed(ctx context.Context, arn string, err error) error {
	if _, found, aerr := r.Endpoints.Attributes(ctx, arn); aerr == nil && !found {
		return fmt.Errorf("platform endpoint %s was deleted by another call meanwhile: %w", arn, ErrRace)
	}
	return fmt.Errorf("updating platform endpoint %s: %w", arn, err)
}

// retireAfter retires a device whose endpoint is deleted, when the registration that was to
// replace it failed (another registration of the token won the race): whoever won, its rows
// must not go on listing a dead endpoint. It returns err, the failure.
func (r *Registry) retireAfter(ctx context.Context, dead Owner, err error) error {
	if rerr := r.Store.Retire(ctx, dead); rerr != nil {
		return fmt.Errorf("%w; and removing device %s, whose endpoint is deleted: %v", err, dead.DeviceID, rerr)
	}
	return err
}

// Devices lists a user's devices, enabled or not.
func (r *Registry) Devices(ctx context.Context, userID string) ([]Device, error) {
	if err := ValidateUserID(userID); err != nil {
		return nil, err
	}
	return r.Store.List(ctx, userID)
}

// Unregister removes one device: its endpoint first (nothing reaches the device after
// that), then its rows (the owner row stays, retired). ErrNotFound for an unknown id.
func (r *Registry) Unregister(ctx context.Context, deviceID string) (Device, error) {
	if err := ValidateDeviceID(deviceID); err != nil {
		return Device{}, err
	}
	o, found, err := r.Store.Owner(ctx, deviceID)
	if err != nil {
		return Device{}, fmt.Errorf("reading device %s: %w", deviceID, err)
	}
	if !found || o.Retired {
		return Device{}, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	if err := r.remove(ctx, o); err != nil {
		return Device{}, err
	}
	return Device{ID: o.DeviceID, UserID: o.UserID, Platform: o.Platform, EndpointARN: o.EndpointARN, CreatedAt: o.CreatedAt}, nil
}

// UnregisterUser removes every device of a user (account deletion) and returns them.
func (r *Registry) UnregisterUser(ctx context.Context, userID string) ([]Device, error) {
	list, err := r.Devices(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i, d := range list {
		if err := r.remove(ctx, Owner{DeviceID: d.ID, UserID: userID, EndpointARN: d.EndpointARN}); err != nil {
			return list[:i], err
		}
	}
	return list, nil
}

func (r *Registry) remove(ctx context.Context, o Owner) error {
	if err := r.Endpoints.Delete(ctx, o.EndpointARN); err != nil {
		return fmt.Errorf("deleting platform endpoint %s: %w", o.EndpointARN, err)
	}
	if err := r.Store.Retire(ctx, o); err != nil {
		if errors.Is(err, ErrRace) {
			return fmt.Errorf("removing device %s: %w: try again", o.DeviceID, ErrBusy)
		}
		return fmt.Errorf("removing device %s: %w", o.DeviceID, err)
	}
	return nil
}

// DisableEndpoint marks the device of an endpoint disabled, with the reason, so that the
// sender skips it without a publish until the device registers again. It reports false when
// no device has that endpoint (an unregistered or moved one).
func (r *Registry) DisableEndpoint(ctx context.Context, endpointARN, reason string) (bool, error) {
	o, found, err := r.Store.Owner(ctx, IDOf(endpointARN))
	if err != nil {
		return false, fmt.Errorf("reading the device of %s: %w", endpointARN, err)
	}
	if !found || o.Retired || o.EndpointARN != endpointARN {
		return false, nil
	}
	return r.Store.Disable(ctx, o.UserID, endpointARN, reason, r.now())
}
