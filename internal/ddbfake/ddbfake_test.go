package ddbfake

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func N(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestConditionsAndUpdates(t *testing.T) {
	ctx := context.Background()
	tb := New("k")
	put := func(cond string) error {
		_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{Item: Item{"k": S("a"), "n": N("1"), "s": S("x")},
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: map[string]string{"#k": "k"}})
		return err
	}
	require.NoError(t, put("attribute_not_exists(#k)"))
	var ccf *types.ConditionalCheckFailedException
	require.True(t, errors.As(put("attribute_not_exists(#k)"), &ccf), "a second put of the same key fails its condition")

	update := func(expr, cond string, vals map[string]types.AttributeValue) error {
		_, err := tb.UpdateItem(ctx, &dynamodb.UpdateItemInput{Key: Item{"k": S("a")}, UpdateExpression: aws.String(expr),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: map[string]string{"#s": "s", "#n": "n"},
			ExpressionAttributeValues: vals})
		return err
	}
	require.NoError(t, update("SET #s = :y ADD #n :two", "#n = :one AND (#s = :x OR #s = :z)",
		map[string]types.AttributeValue{":y": S("y"), ":two": N("2"), ":one": N("1"), ":x": S("x"), ":z": S("z")}))
	got := tb.Get(Item{"k": S("a")})
	assert.Equal(t, S("y"), got["s"])
	assert.Equal(t, N("3"), got["n"])
	assert.Error(t, update("REMOVE #s", "#n < :one", map[string]types.AttributeValue{":one": N("1")}), "3 < 1 is false")
	require.NoError(t, update("REMOVE #s", "#n > :one AND NOT attribute_exists(missing)", map[string]types.AttributeValue{":one": N("1")}))
	assert.NotContains(t, tb.Get(Item{"k": S("a")}), "s")
	assert.Error(t, update("SET #s = :v", "missing = :v", map[string]types.AttributeValue{":v": S("v")}), "a missing attribute compares false")
}

func TestIndexQueryAndScanPaginate(t *testing.T) {
	ctx := context.Background()
	tb := New("k")
	tb.Indexes = map[string]Index{"ix": {PartitionKey: "p", SortKey: "d"}}
	for _, it := range []Item{
		{"k": S("1"), "p": S("u"), "d": S("3")}, {"k": S("2"), "p": S("u"), "d": S("1")},
		{"k": S("3"), "p": S("u"), "d": S("2")}, {"k": S("4"), "p": S("v"), "d": S("1")}, {"k": S("5")},
	} {
		_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{Item: it})
		require.NoError(t, err)
	}
	var keys []string
	var start Item
	for {
		out, err := tb.Query(ctx, &dynamodb.QueryInput{IndexName: aws.String("ix"), KeyConditionExpression: aws.String("p = :u"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": S("u")}, Limit: aws.Int32(2), ExclusiveStartKey: start})
		require.NoError(t, err)
		for _, it := range out.Items {
			keys = append(keys, it["k"].(*types.AttributeValueMemberS).Value)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	assert.Equal(t, []string{"2", "3", "1"}, keys, "by the index's sort key, page by page")
	scan, err := tb.Scan(ctx, &dynamodb.ScanInput{IndexName: aws.String("ix")})
	require.NoError(t, err)
	assert.Len(t, scan.Items, 4, "the index holds only items with its partition key")
}

func TestTransactionsWriteEverythingOrNothing(t *testing.T) {
	ctx := context.Background()
	db := &DB{Tables: map[string]*Table{"a": New("k"), "b": New("u", "s")}}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("a"), Item: Item{"k": S("1"), "owner": S("x")}})
	require.NoError(t, err)
	tx := func(owner string) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("b"), Item: Item{"u": S(owner), "s": S("1")}}},
			{Update: &types.Update{TableName: aws.String("a"), Key: Item{"k": S("1")}, UpdateExpression: aws.String("SET owner = :new"),
				ConditionExpression: aws.String("owner = :old"), ExpressionAttributeValues: map[string]types.AttributeValue{":old": S("x"), ":new": S(owner)}}},
			{Delete: &types.Delete{TableName: aws.String("a"), Key: Item{"k": S("2")}, ConditionExpression: aws.String("attribute_not_exists(k)")}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String("a"), Key: Item{"k": S("3")}, ConditionExpression: aws.String("attribute_not_exists(k)")}},
		}})
		return err
	}
	require.NoError(t, tx("y"))
	assert.Equal(t, S("y"), db.Tables["a"].Get(Item{"k": S("1")})["owner"])
	assert.NotNil(t, db.Tables["b"].Get(Item{"u": S("y"), "s": S("1")}))

	err = tx("z")
	var cancelled *types.TransactionCanceledException
	require.ErrorAs(t, err, &cancelled, "owner is y now, not x")
	require.Len(t, cancelled.CancellationReasons, 4, "one reason per item, in order")
	assert.Equal(t, "ConditionalCheckFailed", aws.ToString(cancelled.CancellationReasons[1].Code))
	assert.Equal(t, "None", aws.ToString(cancelled.CancellationReasons[0].Code))
	assert.Nil(t, db.Tables["b"].Get(Item{"u": S("z"), "s": S("1")}), "the put of a cancelled transaction is not written")

	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("a"), Item: Item{"k": S("9")}}},
		{Delete: &types.Delete{TableName: aws.String("a"), Key: Item{"k": S("9")}}},
	}})
	assert.ErrorContains(t, err, "multiple operations on one item")
	_, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("c"), Key: Item{"k": S("1")}})
	var missing *types.ResourceNotFoundException
	assert.ErrorAs(t, err, &missing)
}

func TestMapPathsAndSize(t *testing.T) {
	ctx := context.Background()
	tb := New("k")
	names := map[string]string{"#m": "m", "#a": "a.b", "#b": "b"}
	update := func(expr, cond string, vals map[string]types.AttributeValue) error {
		_, err := tb.UpdateItem(ctx, &dynamodb.UpdateItemInput{Key: Item{"k": S("x")}, UpdateExpression: aws.String(expr),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		return err
	}
	one := map[string]types.AttributeValue{":v": N("1"), ":n": N("2")}
	assert.ErrorContains(t, update("SET #m.#a = :v", "", one), "document path provided in the update expression is invalid",
		"a key of a missing map cannot be set")
	assert.Error(t, update("SET #m = :v", "size(#m) < :n", one), "size() of a missing attribute compares false")

	newMap := map[string]types.AttributeValue{":m": &types.AttributeValueMemberM{Value: Item{"a.b": N("1")}}}
	require.NoError(t, update("SET #m = :m", "attribute_not_exists(#m)", newMap))
	require.NoError(t, update("SET #m.#b = :v", "attribute_not_exists(#m.#b) AND size(#m) < :n", one))
	err := update("SET #m.#b = :v", "attribute_not_exists(#m.#b) AND size(#m) < :n", one)
	var ccf *types.ConditionalCheckFailedException
	require.ErrorAs(t, err, &ccf)
	assert.Len(t, ccf.Item["m"].(*types.AttributeValueMemberM).Value, 2, "the old item comes back with the failure")

	before := tb.Get(Item{"k": S("x")})["m"].(*types.AttributeValueMemberM)
	require.NoError(t, update("REMOVE #m.#a", "#m.#a = :v AND size(#m) = :n", one), "a name holding a dot is one key, not a path")
	got := tb.Get(Item{"k": S("x")})["m"].(*types.AttributeValueMemberM).Value
	assert.Equal(t, Item{"b": N("1")}, got)
	assert.Len(t, before.Value, 2, "maps are copied on write: a value read before is unchanged")
	require.NoError(t, update("REMOVE #m.#a", "", nil), "removing a missing key of a map does nothing")

	assert.ErrorContains(t, update("SET #nope = :v", "", one), "not defined", "an undefined name is an error, not an attribute named \"\"")
	assert.ErrorContains(t, update("SET #m = :v", "attribute_exists(#nope)", one), "not defined")

	_, err = tb.PutItem(ctx, &dynamodb.PutItemInput{Item: Item{"k": S("s"), "s": S("héllo"), "l": &types.AttributeValueMemberL{Value: []types.AttributeValue{N("1")}}}})
	require.NoError(t, err)
	for cond, want := range map[string]bool{"size(s) = :six": true, "size(l) = :one": true, "size(l) > :one": false} {
		ok, err := eval(aws.String(cond), tb.Get(Item{"k": S("s")}), nil, map[string]types.AttributeValue{":six": N("6"), ":one": N("1")})
		require.NoError(t, err)
		assert.Equal(t, want, ok, cond)
	}
}
