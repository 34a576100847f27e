package ddbfake

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DB is several tables by name, for code that writes more than one table in a transaction.
// Its single-item calls go to the table named in the input. TransactWriteItems is atomic, as
// in DynamoDB: under the locks of every table it names, it checks every condition and then
// writes everything, or nothing (a TransactionCanceledException with one reason per item).
type DB struct {
	Tables map[string]*Table
}

func (db *DB) table(name *string) (*Table, error) {
	t, ok := db.Tables[derefStr(name)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: strPtr("Requested resource not found: table " + derefStr(name))}
	}
	return t, nil
}

func (db *DB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	t, err := db.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return t.GetItem(ctx, in, opts...)
}

func (db *DB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	t, err := db.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return t.PutItem(ctx, in, opts...)
}

func (db *DB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	t, err := db.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return t.UpdateItem(ctx, in, opts...)
}

func (db *DB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	t, err := db.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return t.DeleteItem(ctx, in, opts...)
}

func (db *DB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	t, err := db.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return t.Query(ctx, in, opts...)
}

// write is one item of a transaction, resolved: its table, its item's id, and what it does.
type write struct {
	table  *Table
	id     string
	key    Item
	cond   *string
	names  map[string]string
	values map[string]types.AttributeValue
	apply  func(old Item) (Item, error) // the new item; nil deletes it
}

// TransactWriteItems supports Put, Update, Delete and ConditionCheck.
func (db *DB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	writes := make([]write, len(in.TransactItems))
	seen := map[*Table]map[string]bool{}
	for i, ti := range in.TransactItems {
		w, err := db.resolve(ti)
		if err != nil {
			return nil, err
		}
		if err := w.table.hook("TransactWriteItems"); err != nil {
			return nil, err
		}
		if seen[w.table] == nil {
			seen[w.table] = map[string]bool{}
		}
		if seen[w.table][w.id] {
			// DynamoDB refuses a transaction that names one item twice.
			return nil, fmt.Errorf("ValidationException: Transaction request cannot include multiple operations on one item")
		}
		seen[w.table][w.id] = true
		writes[i] = w
	}
	unlock := lockAll(seen)
	defer unlock()
	reasons := make([]types.CancellationReason, len(writes))
	cancelled := false
	for i, w := range writes {
		ok, err := eval(w.cond, w.table.items[w.id], w.names, w.values)
		if err != nil {
			return nil, err
		}
		reasons[i].Code = strPtr("None")
		if !ok {
			reasons[i].Code, reasons[i].Message = strPtr("ConditionalCheckFailed"), strPtr("The conditional request failed")
			cancelled = true
		}
	}
	if cancelled {
		return nil, &types.TransactionCanceledException{Message: strPtr("Transaction cancelled"), CancellationReasons: reasons}
	}
	next := make([]Item, len(writes))
	for i, w := range writes { // every new item first: a failing update changes nothing
		var err error
		if next[i], err = w.apply(w.table.items[w.id]); err != nil {
			return nil, err
		}
	}
	for i, w := range writes {
		if next[i] == nil {
			delete(w.table.items, w.id)
		} else {
			w.table.items[w.id] = next[i]
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func (db *DB) resolve(ti types.TransactWriteItem) (write, error) {
	var w write
	var name *string
	switch {
	case ti.Put != nil:
		p := ti.Put
		name, w.key, w.cond, w.names, w.values = p.TableName, p.Item, p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues
		w.apply = func(Item) (Item, error) { return clone(p.Item), nil }
	case ti.Update != nil:
		u := ti.Update
		name, w.key, w.cond, w.names, w.values = u.TableName, u.Key, u.ConditionExpression, u.ExpressionAttributeNames, u.ExpressionAttributeValues
		w.apply = func(old Item) (Item, error) {
			item := clone(old)
			if item == nil {
				item = clone(u.Key)
			}
			return item, apply(derefStr(u.UpdateExpression), item, u.ExpressionAttributeNames, u.ExpressionAttributeValues)
		}
	case ti.Delete != nil:
		d := ti.Delete
		name, w.key, w.cond, w.names, w.values = d.TableName, d.Key, d.ConditionExpression, d.ExpressionAttributeNames, d.ExpressionAttributeValues
		w.apply = func(Item) (Item, error) { return nil, nil }
	case ti.ConditionCheck != nil:
		c := ti.ConditionCheck
		name, w.key, w.cond, w.names, w.values = c.TableName, c.Key, c.ConditionExpression, c.ExpressionAttributeNames, c.ExpressionAttributeValues
		w.apply = func(old Item) (Item, error) { return old, nil }
	default:
		return w, fmt.Errorf("ValidationException: a transaction item has no Put, Update, Delete or ConditionCheck")
	}
	t, err := db.table(name)
	if err != nil {
		return w, err
	}
	w.table, w.id = t, t.id(w.key)
	return w, nil
}

// lockAll locks the tables in one fixed order (any will do: by address), so that two
// transactions cannot each hold a lock the other waits for, and returns the unlock.
func lockAll(tables map[*Table]map[string]bool) func() {
	order := make([]*Table, 0, len(tables))
	for t := range tables {
		order = append(order, t)
	}
	sort.Slice(order, func(i, j int) bool { return fmt.Sprintf("%p", order[i]) < fmt.Sprintf("%p", order[j]) })
	for _, t := range order {
		t.mu.Lock()
	}
	return func() {
		for _, t := range order {
			t.mu.Unlock()
		}
	}
}
