package awsadapters_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
)

// shuffle lets other goroutines run a random number of times, so that racing calls interleave.
func shuffle() {
	for range rand.IntN(4) {
		runtime.Gosched()
	}
}

// memorySNS is SNS's platform endpoints, atomic per call: one endpoint per token, a new id on
// every creation, and CreatePlatformEndpoint's answer for a token whose endpoint has other
// attributes (disabled): InvalidParameter naming it.
type memorySNS struct {
	mu        sync.Mutex
	endpoints map[string]map[string]string // ARN → attributes
	next      int
}

func (m *memorySNS) CreatePlatformEndpoint(_ context.Context, in *sns.CreatePlatformEndpointInput, _ ...func(*sns.Options)) (*sns.CreatePlatformEndpointOutput, error) {
	shuffle()
	m.mu.Lock()
	defer m.mu.Unlock()
	for arn, a := range m.endpoints {
		if a["Token"] == aws.ToString(in.Token) {
			if a["Enabled"] != "true" {
				return nil, &smithy.GenericAPIError{Code: "InvalidParameter", Message: "Invalid parameter: Token Reason: Endpoint " + arn +
					" already exists with the same Token, but different attributes."}
			}
			return &sns.CreatePlatformEndpointOutput{EndpointArn: aws.String(arn)}, nil
		}
	}
	m.next++
	arn := fmt.Sprintf("arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/ep-%d", m.next)
	m.endpoints[arn] = map[string]string{"Token": aws.ToString(in.Token), "Enabled": "true"}
	return &sns.CreatePlatformEndpointOutput{EndpointArn: aws.String(arn)}, nil
}

func (m *memorySNS) GetEndpointAttributes(_ context.Context, in *sns.GetEndpointAttributesInput, _ ...func(*sns.Options)) (*sns.GetEndpointAttributesOutput, error) {
	shuffle()
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.endpoints[aws.ToString(in.EndpointArn)]
	if !ok {
		return nil, &snstypes.NotFoundException{Message: aws.String("Endpoint does not exist")}
	}
	return &sns.GetEndpointAttributesOutput{Attributes: map[string]string{"Token": a["Token"], "Enabled": a["Enabled"]}}, nil
}

func (m *memorySNS) SetEndpointAttributes(_ context.Context, in *sns.SetEndpointAttributesInput, _ ...func(*sns.Options)) (*sns.SetEndpointAttributesOutput, error) {
	shuffle()
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.endpoints[aws.ToString(in.EndpointArn)]
	if !ok {
		return nil, &snstypes.NotFoundException{Message: aws.String("Endpoint does not exist")}
	}
	for k, v := range in.Attributes {
		a[k] = v
	}
	return &sns.SetEndpointAttributesOutput{}, nil
}

func (m *memorySNS) DeleteEndpoint(_ context.Context, in *sns.DeleteEndpointInput, _ ...func(*sns.Options)) (*sns.DeleteEndpointOutput, error) {
	shuffle()
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.endpoints, aws.ToString(in.EndpointArn))
	return &sns.DeleteEndpointOutput{}, nil
}

// TestConcurrentRegistrationsOnTheAdaptersEndWithOneOwner races registrations of one token
// through the registry on the DynamoDB store's real conditions and transactions (on ddbfake,
// atomic as DynamoDB is, unlike the local emulator) and SNS's endpoint rules.
func TestConcurrentRegistrationsOnTheAdaptersEndWithOneOwner(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		user     func(i int) string
		disabled bool // the holder's endpoint is disabled before the race
	}{
		{"ten users", func(i int) string { return fmt.Sprintf("user-%d", i) }, false},
		{"ten users, the holder's endpoint disabled", func(i int) string { return fmt.Sprintf("user-%d", i) }, true},
		{"one user", func(int) string { return "same-user" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for round := 0; round < 100 && !t.Failed(); round++ {
				yield := func(string) error { shuffle(); return nil }
				db := &ddbfake.DB{Tables: map[string]*ddbfake.Table{"owners": ddbfake.New("deviceId"), "devices": ddbfake.New("userId", "endpointArn")}}
				db.Tables["owners"].Hook, db.Tables["devices"].Hook = yield, yield
				endpoints := &memorySNS{endpoints: map[string]map[string]string{}}
				reg := &devices.Registry{
					Endpoints: &awsadapters.SNSEndpoints{Client: endpoints, ApplicationARN: "arn:aws:sns:eu-west-1:123456789012:app/GCM/app"},
					Store:     &awsadapters.DeviceStore{Client: db, DevicesTable: "devices", OwnersTable: "owners"},
				}
				held, err := reg.Register(ctx, devices.Registration{UserID: "holder", Token: "tok"})
				require.NoError(t, err)
				if c.disabled {
					endpoints.endpoints[held.EndpointARN]["Enabled"] = "false"
				}
				var wg sync.WaitGroup
				for i := range 10 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := reg.Register(ctx, devices.Registration{UserID: c.user(i), Token: "tok"})
						if err != nil && !errors.Is(err, devices.ErrBusy) {
							t.Errorf("a registration failed with something else than ErrBusy: %v", err)
						}
					}()
				}
				wg.Wait()
				assertOneOwnerRow(t, db, endpoints, "tok")
			}
		})
	}
}

// assertOneOwnerRow: one owner row with a user (the rest are tombstones), one device row,
// enabled, that user's, on a live endpoint of the token.
func assertOneOwnerRow(t *testing.T, db *ddbfake.DB, endpoints *memorySNS, token string) {
	t.Helper()
	ctx := context.Background()
	owners, err := db.Tables["owners"].Scan(ctx, &dynamodb.ScanInput{})
	require.NoError(t, err)
	var owner map[string]types.AttributeValue
	for _, it := range owners.Items {
		if _, ok := it["userId"]; ok {
			require.Nil(t, owner, "two owner rows: %s and %s", ownerOf(owner), ownerOf(it))
			owner = it
		}
	}
	require.NotNil(t, owner, "no owner row")
	rows, err := db.Tables["devices"].Scan(ctx, &dynamodb.ScanInput{})
	require.NoError(t, err)
	require.Len(t, rows.Items, 1, "device rows, one per endpoint: %v", len(rows.Items))
	row := rows.Items[0]
	require.Equal(t, owner["userId"], row["userId"])
	require.Equal(t, owner["endpointArn"], row["endpointArn"])
	require.Equal(t, &types.AttributeValueMemberBOOL{Value: true}, row["enabled"])
	arn := row["endpointArn"].(*types.AttributeValueMemberS).Value
	endpoints.mu.Lock()
	defer endpoints.mu.Unlock()
	a, alive := endpoints.endpoints[arn]
	require.True(t, alive, "the listed endpoint %s was deleted", arn)
	require.Equal(t, token, a["Token"])
	require.Equal(t, "true", a["Enabled"])
}

func ownerOf(it map[string]types.AttributeValue) string {
	v := func(name string) string {
		if s, ok := it[name].(*types.AttributeValueMemberS); ok {
			return s.Value
		}
		return ""
	}
	return fmt.Sprintf("device %s of %s (%s)", v("deviceId"), v("userId"), v("endpointArn"))
}
