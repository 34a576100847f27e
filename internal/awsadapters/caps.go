package awsadapters

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/delayed-push/delayed-push/internal/caps"
)

// CapsAPI is the part of *dynamodb.Client the frequency caps use.
type CapsAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// The caps table: partition key CapsUserID (string), no sort key; CapsExpiresAt (epoch
// seconds) is its TTL attribute.
const (
	CapsUserID    = "userId"
	CapsExpiresAt = "expiresAt"
)

// CapStore is caps.Store on a table with one item per user. The item holds, for each rule
// (the stack's or a category's cap), a map attribute named "<category>@<window seconds>"
// ("@86400" for the stack's 24-hour cap) from each counted push's key (22 characters of the
// SHA-256 of its id) to the time it was counted (epoch milliseconds). So every Take is one
// conditional UpdateItem, atomic over all the caps of the push:
//
//   - for a map the item has: SET #m.#key = :now, REMOVE the expired entries seen, on the
//     condition attribute_not_exists(#m.#key) AND size(#m) <= N−1+removed AND each removed
//     entry still has the time seen — so the map holds at most N entries after the write and
//     a concurrent writer cannot slip in between (no read-then-write: the read only guesses
//     the write, the condition decides);
//   - for a map the item lacks: SET #m = {key: now} on attribute_not_exists(#m).
//
// When the condition fails, the item it failed on comes back with the failure: the push is
// then counted already (admitted again, not counted twice), refused by the first full cap, or
// written again from the newer item. A refusal writes nothing.
//
// Item size: a map holds at most its N entries (about 35 bytes each), and caps.MaxTotalN bounds
// the sum of N, so an item stays under about 8 KB, however long the push ids and user lifetime.
// Expired entries are removed by the next push; a user with no push for the longest window has
// an item whose TTL deletes it (TTL only tidies: conditions compare times, not presence).
//
// Cost per admitted push: one strongly consistent GetItem (1 read unit up to 4 KB) and one
// UpdateItem (1 write unit per KB of the larger of the old and new item: 1 for a config like
// "3/24h,1/10m"); a failed condition under contention costs another write. A refusal costs the
// read (and a write when it is found at the write).
type CapStore struct {
	Client CapsAPI
	Table  string
	Config caps.Config
}

var _ caps.Store = (*CapStore)(nil)

// capsMaxRemoved bounds the entries one write removes, so that its expressions stay far below
// DynamoDB's 4 KB per expression (about 20 characters each in the condition).
const capsMaxRemoved = 60

// capsMaxAttempts bounds the writes of one Take. Each failed condition means another write
// succeeded (a push counted or entries removed), so contention ends after about N writes.
const capsMaxAttempts = 2*caps.MaxN + 10

// Take admits (counts) or refuses the push of user in category ("" for none). An error means
// nothing is decided; the push may or may not have been counted, and taking it again is safe.
func (c *CapStore) Take(ctx context.Context, user, category, pushID string, now time.Time) (caps.Decision, error) {
	if user == "" || pushID == "" {
		return caps.Decision{}, fmt.Errorf("caps: user and push id are required")
	}
	if category != "" {
		if err := caps.ValidCategory(category); err != nil {
			return caps.Decision{}, fmt.Errorf("caps: %w", err)
		}
	}
	rules := c.Config.Rules(category)
	if len(rules) == 0 {
		return caps.Decision{Outcome: caps.Uncapped}, nil
	}
	key := pushKey(pushID)
	userKey := map[string]types.AttributeValue{CapsUserID: s(user)}
	var item map[string]types.AttributeValue
	read := true
	for attempt := 0; attempt < capsMaxAttempts; attempt++ {
		if read {
			out, err := c.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), Key: userKey, ConsistentRead: aws.Bool(true)})
			if err != nil {
				return caps.Decision{}, fmt.Errorf("caps: get %s: %w", c.Table, err)
			}
			item, read = out.Item, false
		}
		logs, err := capLogs(item, rules)
		if err != nil {
			return caps.Decision{}, fmt.Errorf("caps: user %s: %w", user, err)
		}
		dup, full := caps.Check(rules, logs.times(), key, now)
		switch {
		case dup:
			return caps.Decision{Outcome: caps.AlreadyCounted}, nil
		case full >= 0:
			return caps.Decision{Outcome: caps.Capped, Cap: rules[full]}, nil
		}
		in, counts := c.write(userKey, rules, logs, key, now)
		_, err = c.Client.UpdateItem(ctx, in)
		switch {
		case err == nil && counts:
			return caps.Decision{Outcome: caps.Counted}, nil
		case err == nil:
			read = true // only removed expired entries: read what is left
			continue
		}
		if item, err = refusedItem(ctx, c.Client, c.Table, userKey, err); err != nil {
			return caps.Decision{}, fmt.Errorf("caps: update %s: %w", c.Table, err)
		}
	}
	return caps.Decision{}, fmt.Errorf("caps: user %s: no decision after %d writes (contention)", user, capsMaxAttempts)
}

// pushKey is the map key of a push: short and fixed in length whatever the id.
func pushKey(pushID string) string {
	sum := sha256.Sum256([]byte(pushID))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// capMapName is the attribute holding a rule's counted pushes. Its N is not in the name, so a
// new N keeps the count; a new window starts its count afresh.
func capMapName(r caps.Rule) string {
	return r.Category + "@" + strconv.FormatInt(int64(r.Window/time.Second), 10)
}

type capEntry struct {
	key  string
	at   time.Time
	attr types.AttributeValue // as stored, for the condition that it is still there
}

// capLog is one rule's map as read: present says the item has it.
type capLog struct {
	present bool
	entries []capEntry
}

type capLogList []capLog

func capLogs(item map[string]types.AttributeValue, rules []caps.Rule) (capLogList, error) {
	out := make(capLogList, len(rules))
	for i, r := range rules {
		name := capMapName(r)
		v, ok := item[name]
		if !ok {
			continue
		}
		m, isMap := v.(*types.AttributeValueMemberM)
		if !isMap {
			return nil, fmt.Errorf("attribute %s is not a map", name)
		}
		out[i].present = true
		for k, attr := range m.Value {
			ms, isNum := attr.(*types.AttributeValueMemberN)
			if !isNum {
				return nil, fmt.Errorf("attribute %s: entry %s is not a number", name, k)
			}
			at, err := strconv.ParseInt(ms.Value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: entry %s: %w", name, k, err)
			}
			out[i].entries = append(out[i].entries, capEntry{key: k, at: time.UnixMilli(at), attr: attr})
		}
		// Oldest first, so that the oldest are removed first when there are many.
		sort.Slice(out[i].entries, func(a, b int) bool { return out[i].entries[a].at.Before(out[i].entries[b].at) })
	}
	return out, nil
}

func (l capLogList) times() []map[string]time.Time {
	out := make([]map[string]time.Time, len(l))
	for i, log := range l {
		out[i] = make(map[string]time.Time, len(log.entries))
		for _, e := range log.entries {
			out[i][e.key] = e.at
		}
	}
	return out
}

// write is the UpdateItem that counts the push in every rule's map, removing the expired
// entries seen. counts is false when too many entries must go for one write: the write then
// only removes some, and the push is taken again after it.
func (c *CapStore) write(userKey map[string]types.AttributeValue, rules []caps.Rule, logs capLogList, key string, now time.Time) (*dynamodb.UpdateItemInput, bool) {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	entryNames := map[string]string{}
	entryName := func(k string) string {
		if p, ok := entryNames[k]; ok {
			return p
		}
		p := "#e" + strconv.Itoa(len(entryNames))
		entryNames[k], names[p] = p, k
		return p
	}
	type plan struct {
		removed []capEntry
	}
	plans := make([]plan, len(rules))
	budget, counts := capsMaxRemoved, true
	for i, r := range rules {
		for _, e := range logs[i].entries {
			if budget == 0 || !caps.Expired(e.at, r.Window, now) {
				break
			}
			plans[i].removed = append(plans[i].removed, e)
			budget--
		}
		if len(logs[i].entries)-len(plans[i].removed)+1 > r.N {
			counts = false // full of expired entries beyond this write's budget
		}
	}
	var cond, set, remove []string
	for i, r := range rules {
		m := "#m" + strconv.Itoa(i)
		names[m] = capMapName(r)
		if !logs[i].present {
			if counts {
				cond = append(cond, "attribute_not_exists("+m+")")
				set = append(set, m+" = :new")
				values[":new"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{key: n(now.UnixMilli())}}
			}
			continue
		}
		for _, e := range plans[i].removed {
			path := m + "." + entryName(e.key)
			v := ":t" + strconv.Itoa(len(values))
			values[v] = e.attr
			cond = append(cond, path+" = "+v)
			remove = append(remove, path)
		}
		if counts {
			limit := ":n" + strconv.Itoa(i)
			values[limit] = n(int64(r.N - 1 + len(plans[i].removed)))
			cond = append(cond, "attribute_not_exists("+m+".#key)", "size("+m+") <= "+limit)
			set = append(set, m+".#key = :now")
			names["#key"], values[":now"] = key, n(now.UnixMilli())
		}
	}
	if counts {
		// The item lives as long as its longest cap needs it after this push.
		set = append(set, "#exp = :exp")
		names["#exp"], values[":exp"] = CapsExpiresAt, n(now.Add(c.Config.LongestWindow()).Unix()+1)
	}
	expr := ""
	if len(set) > 0 {
		expr = "SET " + strings.Join(set, ", ")
	}
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	return &dynamodb.UpdateItemInput{
		TableName:                           aws.String(c.Table),
		Key:                                 userKey,
		UpdateExpression:                    aws.String(strings.TrimSpace(expr)),
		ConditionExpression:                 aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, counts
}
