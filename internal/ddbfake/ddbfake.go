// Package ddbfake is an in-memory DynamoDB table for unit tests: GetItem, PutItem, UpdateItem,
// DeleteItem, Query and Scan (on the table or a global index), with the condition and update
// expressions this project writes (comparisons, AND/OR/NOT, parentheses, attribute_exists,
// attribute_not_exists, size(); SET, REMOVE and ADD; document paths into maps such as #m.#k),
// and, on a DB of several tables, TransactWriteItems. Each call is atomic, as in DynamoDB, which the emulator is not under
// concurrent requests (local/RESEARCH.md): tests of claim logic run here.
package ddbfake

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is a table item.
type Item = map[string]types.AttributeValue

// Index is a global secondary index: items with the partition key attribute, sorted by the
// sort key (strings).
type Index struct {
	PartitionKey, SortKey string
}

// Table is one table. Hook, when set, runs before each call with the call's name; it may
// return an error to fail the call (fault injection).
type Table struct {
	Keys    []string // the key attribute names: partition key, then sort key if any
	Indexes map[string]Index
	Hook    func(op string) error

	mu    sync.Mutex
	items map[string]Item
}

// New returns an empty table with the given key attributes.
func New(keys ...string) *Table { return &Table{Keys: keys, items: map[string]Item{}} }

func (t *Table) id(key Item) string {
	parts := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		parts[i] = show(key[k])
	}
	return strings.Join(parts, "\x00")
}

// Get returns a copy of the item with the given key, or nil.
func (t *Table) Get(key Item) Item {
	t.mu.Lock()
	defer t.mu.Unlock()
	return clone(t.items[t.id(key)])
}

// Len is the number of items.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.items)
}

func (t *Table) hook(op string) error {
	if t.Hook != nil {
		return t.Hook(op)
	}
	return nil
}

func conditionFailed(item Item, want types.ReturnValuesOnConditionCheckFailure) error {
	e := &types.ConditionalCheckFailedException{Message: strPtr("The conditional request failed")}
	if want == types.ReturnValuesOnConditionCheckFailureAllOld {
		e.Item = clone(item)
	}
	return e
}

func (t *Table) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := t.hook("GetItem"); err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: t.Get(in.Key)}, nil
}

func (t *Table) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := t.hook("PutItem"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.id(in.Item)
	old := t.items[id]
	ok, err := eval(in.ConditionExpression, old, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure)
	}
	t.items[id] = clone(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (t *Table) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := t.hook("UpdateItem"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.id(in.Key)
	old := t.items[id]
	ok, err := eval(in.ConditionExpression, old, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure)
	}
	item := clone(old)
	if item == nil {
		item = clone(in.Key)
	}
	if err := apply(derefStr(in.UpdateExpression), item, in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	t.items[id] = item
	out := &dynamodb.UpdateItemOutput{}
	switch in.ReturnValues {
	case types.ReturnValueAllNew:
		out.Attributes = clone(item)
	case types.ReturnValueAllOld:
		out.Attributes = clone(old)
	}
	return out, nil
}

func (t *Table) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := t.hook("DeleteItem"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.id(in.Key)
	old := t.items[id]
	ok, err := eval(in.ConditionExpression, old, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure)
	}
	delete(t.items, id)
	return &dynamodb.DeleteItemOutput{}, nil
}

// Query supports a partition key equality on the table or an index, Limit and
// ExclusiveStartKey.
func (t *Table) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := t.hook("Query"); err != nil {
		return nil, err
	}
	pk, sk := t.Keys[0], ""
	if len(t.Keys) > 1 {
		sk = t.Keys[1]
	}
	if in.IndexName != nil {
		ix, ok := t.Indexes[*in.IndexName]
		if !ok {
			return nil, fmt.Errorf("ValidationException: no index %s", *in.IndexName)
		}
		pk, sk = ix.PartitionKey, ix.SortKey
	}
	return t.page(in.KeyConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, pk, sk, in.Limit, in.ExclusiveStartKey, in.IndexName != nil)
}

// Scan supports the table or an index (items with the index's partition key), Limit and
// ExclusiveStartKey.
func (t *Table) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := t.hook("Scan"); err != nil {
		return nil, err
	}
	pk, sk := t.Keys[0], ""
	if in.IndexName != nil {
		ix, ok := t.Indexes[*in.IndexName]
		if !ok {
			return nil, fmt.Errorf("ValidationException: no index %s", *in.IndexName)
		}
		pk, sk = ix.PartitionKey, ix.SortKey
	}
	out, err := t.page(nil, nil, nil, pk, sk, in.Limit, in.ExclusiveStartKey, in.IndexName != nil)
	if err != nil {
		return nil, err
	}
	return &dynamodb.ScanOutput{Items: out.Items, LastEvaluatedKey: out.LastEvaluatedKey, Count: out.Count}, nil
}

func (t *Table) page(cond *string, names map[string]string, values map[string]types.AttributeValue, pk, sk string, limit *int32, start Item, onIndex bool) (*dynamodb.QueryOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var items []Item
	for _, it := range t.items {
		if _, ok := it[pk]; !ok {
			continue
		}
		ok, err := eval(cond, it, names, values)
		if err != nil {
			return nil, err
		}
		if ok {
			items = append(items, clone(it))
		}
	}
	sortKey := func(it Item) string { return show(it[pk]) + "\x00" + show(it[sk]) + "\x00" + t.id(it) }
	sort.Slice(items, func(i, j int) bool { return sortKey(items[i]) < sortKey(items[j]) })
	if start != nil {
		from := sortKey(start)
		for len(items) > 0 && sortKey(items[0]) <= from {
			items = items[1:]
		}
	}
	out := &dynamodb.QueryOutput{}
	if limit != nil && int(*limit) < len(items) {
		items = items[:*limit]
		last := items[len(items)-1]
		out.LastEvaluatedKey = Item{}
		for _, k := range t.Keys {
			out.LastEvaluatedKey[k] = last[k]
		}
		if onIndex {
			out.LastEvaluatedKey[pk] = last[pk]
			if sk != "" {
				out.LastEvaluatedKey[sk] = last[sk]
			}
		}
	}
	out.Items, out.Count = items, int32(len(items))
	return out, nil
}

func show(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return x.Value
	case *types.AttributeValueMemberN:
		return x.Value
	case *types.AttributeValueMemberBOOL:
		return strconv.FormatBool(x.Value)
	case nil:
		return ""
	}
	return fmt.Sprintf("%v", v)
}

func clone(it Item) Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v // attribute values are never mutated in place here
	}
	return out
}

func strPtr(s string) *string { return &s }

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
