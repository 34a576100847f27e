package devices_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/delayed-push/delayed-push/devices"
)

// fakeSNS keeps platform endpoints as SNS does: one per token, a new id on every creation.
type fakeSNS struct {
	mu        sync.Mutex
	endpoints map[string]*devices.EndpointAttributes
	next      int
	calls     []string
	shuffle   bool // each call yields first, so that racing goroutines interleave
}

func newFakeSNS() *fakeSNS { return &fakeSNS{endpoints: map[string]*devices.EndpointAttributes{}} }

func (f *fakeSNS) Create(_ context.Context, token string) (string, error) {
	yield(f.shuffle)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "create")
	for arn, a := range f.endpoints {
		if a.Token == token {
			return arn, nil
		}
	}
	f.next++
	arn := fmt.Sprintf("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/delayed-push/ep-%04d", f.next)
	f.endpoints[arn] = &devices.EndpointAttributes{Token: token, Enabled: true}
	return arn, nil
}

func (f *fakeSNS) Attributes(_ context.Context, arn string) (devices.EndpointAttributes, bool, error) {
	yield(f.shuffle)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "get")
	a, ok := f.endpoints[arn]
	if !ok {
		return devices.EndpointAttributes{}, false, nil
	}
	return *a, true, nil
}

func (f *fakeSNS) Enable(_ context.Context, arn, token string) error {
	yield(f.shuffle)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "set")
	a, ok := f.endpoints[arn]
	if !ok {
		return fmt.Errorf("NotFound: endpoint %s does not exist", arn)
	}
	a.Token, a.Enabled = token, true
	return nil
}

func (f *fakeSNS) Delete(_ context.Context, arn string) error {
	yield(f.shuffle)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete")
	delete(f.endpoints, arn)
	return nil
}

func (f *fakeSNS) disable(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endpoints[arn].Enabled = false
}

func (f *fakeSNS) tokenOf(arn string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.endpoints[arn]
	if !ok {
		return "", false
	}
	return a.Token, true
}

func (f *fakeSNS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// fakeStore applies the Store's conditions atomically, as DynamoDB transactions do: a Save
// that fails changes nothing.
type fakeStore struct {
	mu      sync.Mutex
	owners  map[string]devices.Owner
	rows    map[string]map[string]devices.Device // user → endpoint → row
	saves   int
	onOwner func() // runs after each Owner read, unlocked: lets a test interleave a call
	shuffle bool   // each call yields first, so that racing goroutines interleave
}

// yield lets other goroutines run a random number of times, when shuffle is set.
func yield(shuffle bool) {
	if shuffle {
		for range rand.IntN(4) {
			runtime.Gosched()
		}
	}
}

func newFakeStore() *fakeStore {
	return &fakeStore{owners: map[string]devices.Owner{}, rows: map[string]map[string]devices.Device{}}
}

func (f *fakeStore) Owner(_ context.Context, id string) (devices.Owner, bool, error) {
	yield(f.shuffle)
	f.mu.Lock()
	o, ok := f.owners[id]
	f.mu.Unlock()
	if f.onOwner != nil {
		hook := f.onOwner
		f.onOwner = nil
		hook()
	}
	return o, ok, nil
}

func (f *fakeStore) Save(_ context.Context, d devices.Device, prev *devices.Owner) error {
	yield(f.shuffle)
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.owners[d.ID]; ok && (o.Retired || o.UserID != d.UserID) {
		return devices.ErrRace
	}
	if prev != nil && !f.retire(*prev) {
		return devices.ErrRace
	}
	f.saves++
	f.owners[d.ID] = devices.Owner{DeviceID: d.ID, UserID: d.UserID, EndpointARN: d.EndpointARN, Platform: d.Platform, CreatedAt: d.CreatedAt}
	if f.rows[d.UserID] == nil {
		f.rows[d.UserID] = map[string]devices.Device{}
	}
	f.rows[d.UserID][d.EndpointARN] = d
	return nil
}

func (f *fakeStore) Retire(_ context.Context, o devices.Owner) error {
	yield(f.shuffle)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.retire(o) {
		return devices.ErrRace
	}
	return nil
}

// retire is the Store's retirement, under f.mu: false when another user owns the device.
func (f *fakeStore) retire(o devices.Owner) bool {
	if cur, ok := f.owners[o.DeviceID]; ok && !cur.Retired && cur.UserID != o.UserID {
		return false
	}
	f.owners[o.DeviceID] = devices.Owner{DeviceID: o.DeviceID, EndpointARN: o.EndpointARN, Platform: o.Platform, Retired: true}
	delete(f.rows[o.UserID], o.EndpointARN)
	return true
}

func (f *fakeStore) List(_ context.Context, userID string) ([]devices.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []devices.Device
	for _, d := range f.rows[userID] {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EndpointARN < out[j].EndpointARN })
	return out, nil
}

func (f *fakeStore) Disable(_ context.Context, userID, arn, reason string, at time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.rows[userID][arn]
	if !ok {
		return false, nil
	}
	d.Enabled, d.DisabledReason, d.DisabledAt = false, reason, &at
	f.rows[userID][arn] = d
	return true, nil
}

// endpointsOf is what the sender would publish to for a user: the enabled rows.
func (f *fakeStore) endpointsOf(userID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for arn, d := range f.rows[userID] {
		if d.Enabled {
			out = append(out, arn)
		}
	}
	sort.Strings(out)
	return out
}
