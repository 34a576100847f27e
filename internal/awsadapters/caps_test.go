package awsadapters_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/caps"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
)

var capsT0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

func capStore(t *testing.T, config string) (*awsadapters.CapStore, *ddbfake.Table) {
	t.Helper()
	c, err := caps.ParseConfig(config)
	require.NoError(t, err)
	tb := ddbfake.New(awsadapters.CapsUserID)
	return &awsadapters.CapStore{Client: tb, Table: "caps", Config: c}, tb
}

// take is Take that must not fail; it returns the outcome and, for a refusal, the cap.
func take(t *testing.T, s *awsadapters.CapStore, category, pushID string, at time.Time) string {
	t.Helper()
	d, err := s.Take(context.Background(), "u1", category, pushID, at)
	require.NoError(t, err)
	if d.Outcome == caps.Capped {
		return "capped " + d.Cap.String()
	}
	return string(d.Outcome)
}

func capMap(tb *ddbfake.Table, user, name string) map[string]types.AttributeValue {
	it := tb.Get(map[string]types.AttributeValue{awsadapters.CapsUserID: &types.AttributeValueMemberS{Value: user}})
	if m, ok := it[name].(*types.AttributeValueMemberM); ok {
		return m.Value
	}
	return nil
}

func TestCapsWindowsRoll(t *testing.T) {
	s, tb := capStore(t, "3/24h,1/10m")
	m := time.Minute
	assert.Equal(t, "counted", take(t, s, "", "p1", capsT0))
	assert.Equal(t, "capped 1/10m", take(t, s, "", "p2", capsT0.Add(9*m)), "one in ten minutes")
	assert.Equal(t, "counted", take(t, s, "", "p2", capsT0.Add(10*m)), "exactly ten minutes later the first no longer counts")
	assert.Equal(t, "counted", take(t, s, "", "p3", capsT0.Add(20*m)))
	assert.Equal(t, "capped 3/1d", take(t, s, "", "p4", capsT0.Add(30*m)), "the fourth of three in a day")
	assert.Equal(t, "capped 3/1d", take(t, s, "", "p4", capsT0.Add(24*time.Hour-time.Millisecond)))
	assert.Equal(t, "counted", take(t, s, "", "p4", capsT0.Add(24*time.Hour)), "the day rolls past the first")
	assert.Equal(t, "capped 3/1d", take(t, s, "", "p5", capsT0.Add(24*time.Hour+9*m)))

	day := capMap(tb, "u1", "@86400")
	assert.Len(t, day, 3, "the first push was removed when it expired")
	assert.Len(t, capMap(tb, "u1", "@600"), 1, "the ten-minute map holds one")
	for k := range day {
		assert.Len(t, k, 22, "a push is kept by a short hash of its id")
	}
	it := tb.Get(map[string]types.AttributeValue{awsadapters.CapsUserID: &types.AttributeValueMemberS{Value: "u1"}})
	assert.Equal(t, &types.AttributeValueMemberN{Value: strconv.FormatInt(capsT0.Add(48*time.Hour).Unix()+1, 10)}, it[awsadapters.CapsExpiresAt],
		"TTL: the last push counted plus the longest window")
}

func TestCapsExpiredEntriesDoNotAccumulate(t *testing.T) {
	s, tb := capStore(t, "3/1h")
	for i := 0; i < 50; i++ {
		assert.Equal(t, "counted", take(t, s, "", fmt.Sprint("p", i), capsT0.Add(time.Duration(i)*20*time.Minute)))
		assert.LessOrEqual(t, len(capMap(tb, "u1", "@3600")), 3)
	}
}

func TestCapsCategoriesAreIndependent(t *testing.T) {
	s, _ := capStore(t, ";promo=1/1h;news=1/1h")
	assert.Equal(t, "counted", take(t, s, "promo", "p1", capsT0))
	assert.Equal(t, "counted", take(t, s, "news", "p2", capsT0), "promo's push does not use news's cap")
	assert.Equal(t, "capped promo:1/1h", take(t, s, "promo", "p3", capsT0))
	assert.Equal(t, "capped news:1/1h", take(t, s, "news", "p4", capsT0))
	assert.Equal(t, "uncapped", take(t, s, "", "p5", capsT0), "no stack caps: a push without category is not capped")
	assert.Equal(t, "uncapped", take(t, s, "other", "p6", capsT0))

	s, tb := capStore(t, "2/1h;promo=1/1h")
	assert.Equal(t, "counted", take(t, s, "promo", "p1", capsT0))
	assert.Equal(t, "counted", take(t, s, "news", "p2", capsT0), "a category without caps: the stack's only")
	assert.Equal(t, "capped 2/1h", take(t, s, "", "p3", capsT0), "the stack's caps count every category")
	assert.Len(t, capMap(tb, "u1", "promo@3600"), 1)

	_, err := s.Take(context.Background(), "u1", "Bad Name", "p", capsT0)
	assert.ErrorContains(t, err, "only a-z")
}

func TestCapsExemptIsNeverCounted(t *testing.T) {
	s, tb := capStore(t, "1/1h")
	for i := 0; i < 5; i++ {
		d, err := caps.Admit(context.Background(), s, "u1", "", fmt.Sprint("x", i), true, capsT0)
		require.NoError(t, err)
		assert.Equal(t, caps.Exempt, d.Outcome)
	}
	assert.Zero(t, tb.Len(), "nothing written")
	d, err := caps.Admit(context.Background(), s, "u1", "", "p1", false, capsT0)
	require.NoError(t, err)
	assert.Equal(t, caps.Counted, d.Outcome)
	d, err = caps.Admit(context.Background(), s, "u1", "", "x9", true, capsT0)
	require.NoError(t, err)
	assert.True(t, d.Admitted(), "exempt when the cap is full")
}

func TestCapsRetryIsNotCountedTwice(t *testing.T) {
	s, tb := capStore(t, "3/24h,2/1h")
	assert.Equal(t, "counted", take(t, s, "", "p1", capsT0))
	assert.Equal(t, "already-counted", take(t, s, "", "p1", capsT0.Add(time.Minute)))
	assert.Equal(t, "counted", take(t, s, "", "p2", capsT0.Add(2*time.Minute)), "p1's retry left room")
	assert.Equal(t, "capped 2/1h", take(t, s, "", "p3", capsT0.Add(3*time.Minute)))
	assert.Equal(t, "already-counted", take(t, s, "", "p1", capsT0.Add(4*time.Minute)), "a counted push is admitted again when the cap is full")
	assert.Equal(t, "already-counted", take(t, s, "", "p1", capsT0.Add(90*time.Minute)), "known by the longest window after the shorter forgot it")
	assert.Len(t, capMap(tb, "u1", "@86400"), 2)
}

// lostReply writes, then fails the first write's reply: the sender crashed after the count.
type lostReply struct {
	awsadapters.CapsAPI
	lost atomic.Bool
}

func (l *lostReply) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := l.CapsAPI.UpdateItem(ctx, in, opts...)
	if err == nil && l.lost.CompareAndSwap(false, true) {
		return nil, errors.New("connection reset")
	}
	return out, err
}

func TestCapsRetryAfterALostReply(t *testing.T) {
	s, tb := capStore(t, "2/1h")
	s.Client = &lostReply{CapsAPI: tb}
	d, err := s.Take(context.Background(), "u1", "", "p1", capsT0)
	assert.ErrorContains(t, err, "connection reset", "the error is returned: nothing is decided")
	assert.Zero(t, d)
	assert.Equal(t, "already-counted", take(t, s, "", "p1", capsT0.Add(time.Second)))
	assert.Equal(t, "counted", take(t, s, "", "p2", capsT0.Add(time.Second)))
	assert.Equal(t, "capped 2/1h", take(t, s, "", "p3", capsT0.Add(time.Second)))
}

type failingCaps struct{ awsadapters.CapsAPI }

func (failingCaps) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errors.New("ProvisionedThroughputExceededException")
}

func TestCapsAnAWSErrorIsReturned(t *testing.T) {
	s, tb := capStore(t, "2/1h")
	s.Client = failingCaps{tb}
	d, err := s.Take(context.Background(), "u1", "", "p1", capsT0)
	assert.ErrorContains(t, err, "ProvisionedThroughputExceededException")
	assert.False(t, d.Outcome != "", "no decision")
}

func TestCapsMoreExpiredEntriesThanOneWriteRemoves(t *testing.T) {
	s, tb := capStore(t, "100/1m")
	for i := 0; i < 100; i++ {
		require.Equal(t, "counted", take(t, s, "", fmt.Sprint("old", i), capsT0))
	}
	lowered, err := caps.ParseConfig("1/1m") // the cap was lowered: 100 expired entries, N 1
	require.NoError(t, err)
	s.Config = lowered
	assert.Equal(t, "counted", take(t, s, "", "p1", capsT0.Add(time.Minute)))
	assert.Len(t, capMap(tb, "u1", "@60"), 1)
}

func TestCapsItemStaysSmall(t *testing.T) {
	s, tb := capStore(t, ";a=100/30d;b=100/30d") // the largest sum of N
	long := strings.Repeat("é", 256)             // the longest push id, in bytes
	for _, cat := range []string{"a", "b"} {
		for i := 0; i < 100; i++ {
			require.Equal(t, "counted", take(t, s, cat, long+cat+fmt.Sprint(i), capsT0))
		}
	}
	require.Equal(t, "capped a:100/30d", take(t, s, "a", "over", capsT0))
	it := tb.Get(map[string]types.AttributeValue{awsadapters.CapsUserID: &types.AttributeValueMemberS{Value: "u1"}})
	size := 0
	for name, v := range it {
		size += len(name) + 8
		if m, ok := v.(*types.AttributeValueMemberM); ok {
			for k, x := range m.Value {
				size += len(k) + len(x.(*types.AttributeValueMemberN).Value) + 3
			}
		}
	}
	t.Logf("item of %d entries (the configuration's largest): about %d bytes", 200, size)
	assert.Less(t, size, 10_000, "far below DynamoDB's 400 KB")
}

// barrier holds every write until n reads are done: all takers read the same item, the worst
// case for a read-then-write.
type barrier struct {
	awsadapters.CapsAPI
	reads   sync.WaitGroup
	started atomic.Int32
	n       int32
}

func newBarrier(api awsadapters.CapsAPI, n int) *barrier {
	b := &barrier{CapsAPI: api, n: int32(n)}
	b.reads.Add(n)
	return b
}

func (b *barrier) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := b.CapsAPI.GetItem(ctx, in, opts...)
	if b.started.Add(1) <= b.n {
		b.reads.Done()
	}
	return out, err
}

func (b *barrier) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	b.reads.Wait()
	return b.CapsAPI.UpdateItem(ctx, in, opts...)
}

// race takes each push id copies times at once (SQS delivers at least once) and returns the
// outcomes per push id.
func race(t *testing.T, s caps.Store, categoryOf func(i int) string, pushes, copies int, at time.Time) map[string][]caps.Outcome {
	var mu sync.Mutex
	out := map[string][]caps.Outcome{}
	var wg sync.WaitGroup
	for i := 0; i < pushes; i++ {
		for c := 0; c < copies; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprint("p", i)
				d, err := s.Take(context.Background(), "u1", categoryOf(i), id, at)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				out[id] = append(out[id], d.Outcome)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

func count(outcomes map[string][]caps.Outcome, o caps.Outcome) int {
	n := 0
	for _, os := range outcomes {
		for _, x := range os {
			if x == o {
				n++
			}
		}
	}
	return n
}

func noCategory(int) string { return "" }

func TestCapsFiftyAtOnceAdmitExactlyTheCap(t *testing.T) {
	for round := 0; round < 20; round++ {
		for _, withBarrier := range []bool{false, true} {
			s, tb := capStore(t, "3/24h,5/1h")
			if round%2 == 1 { // the item exists already, with an expired entry to remove
				require.Equal(t, "counted", take(t, s, "", "old", capsT0.Add(-25*time.Hour)))
			}
			if withBarrier {
				s.Client = newBarrier(tb, 50)
			}
			got := race(t, s, noCategory, 50, 1, capsT0)
			require.Equal(t, 3, count(got, caps.Counted), "round %d barrier %v: %v", round, withBarrier, got)
			require.Equal(t, 47, count(got, caps.Capped), "round %d", round)
			require.Len(t, capMap(tb, "u1", "@86400"), 3)
		}
	}
}

func TestCapsRetriesRacingWithOthers(t *testing.T) {
	for round := 0; round < 20; round++ {
		s, tb := capStore(t, "3/24h")
		if round%2 == 1 {
			s.Client = newBarrier(tb, 50)
		}
		got := race(t, s, noCategory, 10, 5, capsT0) // 10 pushes, each delivered 5 times at once
		require.Equal(t, 3, count(got, caps.Counted), "round %d: %v", round, got)
		admitted := 0
		for id, os := range got {
			first := os[0] == caps.Capped
			for _, o := range os {
				require.Equal(t, first, o == caps.Capped, "round %d: every copy of %s has one answer: %v", round, id, os)
			}
			if !first {
				admitted++
			}
		}
		require.Equal(t, 3, admitted, "round %d: three pushes sent, each counted once", round)
	}
}

func TestCapsTwoCopiesReadingTheSameItem(t *testing.T) {
	for round := 0; round < 20; round++ {
		s, tb := capStore(t, "3/24h")
		require.Equal(t, "counted", take(t, s, "", "earlier", capsT0.Add(-time.Hour)))
		s.Client = newBarrier(tb, 2) // both copies read the item without p1, then both write
		got := race(t, s, noCategory, 1, 2, capsT0)
		require.ElementsMatch(t, []caps.Outcome{caps.Counted, caps.AlreadyCounted}, got["p0"], "round %d", round)
		require.Len(t, capMap(tb, "u1", "@86400"), 2)
	}
}

func TestCapsRaceAcrossCapsOfAStackAndACategory(t *testing.T) {
	for round := 0; round < 20; round++ {
		s, tb := capStore(t, "3/24h;promo=1/1h")
		promo := func(i int) string {
			if i%2 == 0 {
				return "promo"
			}
			return ""
		}
		got := race(t, s, promo, 50, 1, capsT0)
		require.Equal(t, 3, count(got, caps.Counted), "round %d: %v", round, got)
		require.LessOrEqual(t, len(capMap(tb, "u1", "promo@3600")), 1, "round %d", round)
	}
}

// naiveCaps is a read-then-write cap, the design the store must not be: it reads the count,
// decides, and writes without a condition. The race test must catch it.
type naiveCaps struct {
	api awsadapters.CapsAPI
	n   int
}

func (c *naiveCaps) Take(ctx context.Context, user, _, pushID string, now time.Time) (caps.Decision, error) {
	k := map[string]types.AttributeValue{awsadapters.CapsUserID: &types.AttributeValueMemberS{Value: user}}
	out, err := c.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("caps"), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return caps.Decision{}, err
	}
	m := map[string]types.AttributeValue{}
	if old, ok := out.Item["@86400"].(*types.AttributeValueMemberM); ok {
		for key, v := range old.Value {
			m[key] = v
		}
	}
	if len(m) >= c.n {
		return caps.Decision{Outcome: caps.Capped}, nil
	}
	m[pushID] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)}
	_, err = c.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("caps"), Key: k, UpdateExpression: aws.String("SET #m = :m"),
		ExpressionAttributeNames: map[string]string{"#m": "@86400"}, ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberM{Value: m}}})
	return caps.Decision{Outcome: caps.Counted}, err
}

func TestCapsRaceTestCatchesAReadThenWrite(t *testing.T) {
	over := 0
	for round := 0; round < 20; round++ {
		tb := ddbfake.New(awsadapters.CapsUserID)
		got := race(t, &naiveCaps{api: newBarrier(tb, 50), n: 3}, noCategory, 50, 1, capsT0)
		if count(got, caps.Counted) > 3 {
			over++
		}
	}
	assert.Equal(t, 20, over, "a read-then-write over-admits in every round the race test runs")
}
