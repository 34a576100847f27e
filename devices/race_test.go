package devices_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
)

// racers is how many registrations of one token run at once, rounds how often the race is run.
const (
	racers = 10
	rounds = 300
)

// race runs the registrations at once (and unregisters, when given, alongside) and returns
// the errors of those that failed. Only ErrBusy is a loser's error: anything else fails t.
func race(t *testing.T, h *harness, regs []devices.Registration, unregister []string) []error {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(regs))
	for i, r := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = h.reg.Register(context.Background(), r)
		}()
	}
	for _, id := range unregister {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := h.reg.Unregister(context.Background(), id); err != nil && !errors.Is(err, devices.ErrNotFound) && !errors.Is(err, devices.ErrBusy) {
				t.Errorf("unregister %s: %v", id, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	var lost []error
	for _, err := range errs {
		if err != nil {
			if !errors.Is(err, devices.ErrBusy) {
				t.Errorf("a registration failed with something else than ErrBusy: %v", err)
			}
			lost = append(lost, err)
		}
	}
	return lost
}

// assertOneOwner checks what the README promises for a token once the registrations are over:
// one owner (none allowed when least is 0: the device was unregistered), and what is listed
// is that owner's device, enabled, on a live endpoint of the token. Nothing points at a
// deleted endpoint.
func assertOneOwner(t *testing.T, h *harness, token string, least int) {
	t.Helper()
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	var owners []devices.Owner
	for _, o := range h.store.owners {
		if !o.Retired {
			owners = append(owners, o)
		}
	}
	require.LessOrEqual(t, len(owners), 1, "owner rows: %+v", owners)
	require.GreaterOrEqual(t, len(owners), least, "no owner left")
	listed := 0
	for user, rows := range h.store.rows {
		for arn, d := range rows {
			tok, alive := h.sns.tokenOf(arn)
			require.True(t, alive, "the row of %s lists endpoint %s, which was deleted (enabled %v)", user, arn, d.Enabled)
			require.Equal(t, token, tok)
			require.True(t, d.Enabled, "a row of %s is disabled", user)
			listed++
			require.Equal(t, owners[0].UserID, user, "a row of %s, but %s owns the token", user, owners[0].UserID)
			require.Equal(t, owners[0].EndpointARN, arn)
		}
	}
	require.Equal(t, len(owners), listed, "device rows listed")
}

func TestConcurrentRegistrationsOfOneTokenEndWithOneOwner(t *testing.T) {
	for _, c := range []struct {
		name       string
		users      func(i int) string
		heldBy     string // a user who owns the token before the race, if any
		disabled   bool   // the holder's endpoint is disabled: the racers enable it
		unregister bool   // the holder's device is unregistered during the race
	}{
		{name: "ten users, a new token", users: func(i int) string { return fmt.Sprintf("user-%d", i) }},
		{name: "ten users, a token another user holds", users: func(i int) string { return fmt.Sprintf("user-%d", i) }, heldBy: "holder"},
		{name: "ten users, a disabled endpoint another user holds", users: func(i int) string { return fmt.Sprintf("user-%d", i) }, heldBy: "holder", disabled: true},
		{name: "one user, a new token", users: func(int) string { return "same-user" }},
		{name: "one user, a token another user holds", users: func(int) string { return "same-user" }, heldBy: "holder"},
		{name: "one user, while the device is unregistered", users: func(int) string { return "same-user" }, heldBy: "same-user", unregister: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			busy := 0
			for round := 0; round < rounds && !t.Failed(); round++ {
				h := newHarness()
				h.sns.shuffle, h.store.shuffle = true, true
				var unregister []string
				if c.heldBy != "" {
					held := h.register(t, c.heldBy, "tok", "")
					if c.disabled {
						h.sns.disable(held.EndpointARN)
					}
					if c.unregister {
						unregister = []string{held.ID, held.ID}
					}
				}
				regs := make([]devices.Registration, racers)
				for i := range regs {
					regs[i] = devices.Registration{UserID: c.users(i), Token: "tok"}
				}
				busy += len(race(t, h, regs, unregister))
				least := 1
				if c.unregister {
					least = 0 // it may come last
				}
				assertOneOwner(t, h, "tok", least)
			}
			t.Logf("%d of %d registrations were told ErrBusy", busy, rounds*racers)
		})
	}
}
