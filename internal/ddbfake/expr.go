package ddbfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tokens splits an expression into names, values, words, operators and punctuation.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("(),", c):
			out = append(out, string(c))
			i++
		case strings.ContainsRune("=<>", c):
			j := i + 1
			for j < len(s) && strings.ContainsRune("=<>", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("(),=<>", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

type parser struct {
	toks   []string
	pos    int
	item   Item
	names  map[string]string
	values map[string]types.AttributeValue
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("ValidationException: expected %q, got %q", t, got)
	}
	return nil
}

// eval evaluates a condition on item (nil: no item); an empty condition is true.
func eval(cond *string, item Item, names map[string]string, values map[string]types.AttributeValue) (bool, error) {
	if cond == nil || strings.TrimSpace(*cond) == "" {
		return true, nil
	}
	p := &parser{toks: tokens(*cond), item: item, names: names, values: values}
	ok, err := p.or()
	if err != nil {
		return false, err
	}
	if p.pos != len(p.toks) {
		return false, fmt.Errorf("ValidationException: unexpected %q in %q", p.peek(), *cond)
	}
	return ok, nil
}

func (p *parser) or() (bool, error) {
	v, err := p.and()
	for err == nil && strings.EqualFold(p.peek(), "OR") {
		p.next()
		var w bool
		w, err = p.and()
		v = v || w
	}
	return v, err
}

func (p *parser) and() (bool, error) {
	v, err := p.not()
	for err == nil && strings.EqualFold(p.peek(), "AND") {
		p.next()
		var w bool
		w, err = p.not()
		v = v && w
	}
	return v, err
}

func (p *parser) not() (bool, error) {
	if strings.EqualFold(p.peek(), "NOT") {
		p.next()
		v, err := p.not()
		return !v, err
	}
	return p.primary()
}

func (p *parser) primary() (bool, error) {
	switch t := p.peek(); {
	case t == "(":
		p.next()
		v, err := p.or()
		if err != nil {
			return false, err
		}
		return v, p.expect(")")
	case t == "attribute_exists" || t == "attribute_not_exists":
		p.next()
		if err := p.expect("("); err != nil {
			return false, err
		}
		path, err := p.path(p.next())
		if err != nil {
			return false, err
		}
		if err := p.expect(")"); err != nil {
			return false, err
		}
		_, has := lookup(p.item, path)
		return has == (t == "attribute_exists"), nil
	}
	left, lok, err := p.operand()
	if err != nil {
		return false, err
	}
	op := p.next()
	right, rok, err := p.operand()
	if err != nil {
		return false, err
	}
	if !lok || !rok {
		return false, nil // a missing attribute compares false
	}
	c, comparable := compare(left, right)
	switch op {
	case "=":
		return comparable && c == 0, nil
	case "<>":
		return !comparable || c != 0, nil
	case "<":
		return comparable && c < 0, nil
	case "<=":
		return comparable && c <= 0, nil
	case ">":
		return comparable && c > 0, nil
	case ">=":
		return comparable && c >= 0, nil
	}
	return false, fmt.Errorf("ValidationException: unknown operator %q", op)
}

// path resolves a document path: names and #placeholders joined by dots (a.b, #m.#k), each a
// map key in the attribute before it. A placeholder missing from ExpressionAttributeNames is an
// error, as in DynamoDB. List indexes (a[0]) are not supported.
func (p *parser) path(tok string) ([]string, error) {
	if tok == "" {
		return nil, fmt.Errorf("ValidationException: missing attribute name")
	}
	parts := strings.Split(tok, ".")
	for i, part := range parts {
		if strings.HasPrefix(part, "#") {
			name, ok := p.names[part]
			if !ok {
				return nil, fmt.Errorf("ValidationException: An expression attribute name used in the document path is not defined; attribute name: %s", part)
			}
			parts[i] = name
		} else if part == "" {
			return nil, fmt.Errorf("ValidationException: invalid document path %q", tok)
		}
	}
	return parts, nil
}

// lookup finds the value at a document path.
func lookup(item Item, path []string) (types.AttributeValue, bool) {
	v, ok := item[path[0]]
	for _, key := range path[1:] {
		m, isMap := v.(*types.AttributeValueMemberM)
		if !ok || !isMap {
			return nil, false
		}
		v, ok = m.Value[key]
	}
	return v, ok
}

// operand is a value placeholder, an attribute of the item (a document path) or size(path).
func (p *parser) operand() (types.AttributeValue, bool, error) {
	tok := p.next()
	if strings.HasPrefix(tok, ":") {
		v, ok := p.values[tok]
		return v, ok, nil
	}
	if tok == "size" && p.peek() == "(" {
		p.next()
		path, err := p.path(p.next())
		if err != nil {
			return nil, false, err
		}
		if err := p.expect(")"); err != nil {
			return nil, false, err
		}
		v, ok := lookup(p.item, path)
		if !ok {
			return nil, false, nil
		}
		n, err := size(v)
		if err != nil {
			return nil, false, err
		}
		return &types.AttributeValueMemberN{Value: strconv.Itoa(n)}, true, nil
	}
	path, err := p.path(tok)
	if err != nil {
		return nil, false, err
	}
	v, ok := lookup(p.item, path)
	return v, ok, nil
}

// size is DynamoDB's size(): a string's or binary's length in bytes, a collection's number
// of elements.
func size(v types.AttributeValue) (int, error) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value), nil
	case *types.AttributeValueMemberB:
		return len(x.Value), nil
	case *types.AttributeValueMemberM:
		return len(x.Value), nil
	case *types.AttributeValueMemberL:
		return len(x.Value), nil
	case *types.AttributeValueMemberSS:
		return len(x.Value), nil
	case *types.AttributeValueMemberNS:
		return len(x.Value), nil
	case *types.AttributeValueMemberBS:
		return len(x.Value), nil
	}
	return 0, fmt.Errorf("ValidationException: Invalid operand type for size(): %T", v)
}

func compare(a, b types.AttributeValue) (int, bool) {
	switch x := a.(type) {
	case *types.AttributeValueMemberS:
		if y, ok := b.(*types.AttributeValueMemberS); ok {
			return strings.Compare(x.Value, y.Value), true
		}
	case *types.AttributeValueMemberN:
		if y, ok := b.(*types.AttributeValueMemberN); ok {
			xf, _ := strconv.ParseFloat(x.Value, 64)
			yf, _ := strconv.ParseFloat(y.Value, 64)
			switch {
			case xf < yf:
				return -1, true
			case xf > yf:
				return 1, true
			}
			return 0, true
		}
	case *types.AttributeValueMemberBOOL:
		if y, ok := b.(*types.AttributeValueMemberBOOL); ok && x.Value == y.Value {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

// apply runs an update expression (SET path = operand, ...; REMOVE path, ...; ADD path
// number, ...) on item. A path may name a key of a map (#m.#k): SET and REMOVE need the map to
// exist, as in DynamoDB ("The document path provided in the update expression is invalid for
// update"); maps are copied, never changed in place, since items share attribute values.
func apply(expr string, item Item, names map[string]string, values map[string]types.AttributeValue) error {
	p := &parser{toks: tokens(expr), item: item, names: names, values: values}
	section := ""
	for p.peek() != "" {
		switch t := strings.ToUpper(p.peek()); t {
		case "SET", "REMOVE", "ADD":
			section = t
			p.next()
			continue
		case ",":
			p.next()
			continue
		}
		path, err := p.path(p.next())
		if err != nil {
			return err
		}
		switch section {
		case "SET":
			if err := p.expect("="); err != nil {
				return err
			}
			v, ok, err := p.operand()
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("ValidationException: SET %s to a missing value", strings.Join(path, "."))
			}
			if err := setPath(item, path, v); err != nil {
				return err
			}
		case "REMOVE":
			if err := setPath(item, path, nil); err != nil {
				return err
			}
		case "ADD":
			if len(path) > 1 {
				return fmt.Errorf("ValidationException: ADD on a document path is not supported here")
			}
			name := path[0]
			v, ok, err := p.operand()
			if err != nil {
				return err
			}
			add, isNum := v.(*types.AttributeValueMemberN)
			if !ok || !isNum {
				return fmt.Errorf("ValidationException: ADD %s needs a number", name)
			}
			sum, _ := strconv.ParseFloat(add.Value, 64)
			if cur, ok := item[name].(*types.AttributeValueMemberN); ok {
				c, _ := strconv.ParseFloat(cur.Value, 64)
				sum += c
			}
			item[name] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(sum, 'f', -1, 64)}
		default:
			return fmt.Errorf("ValidationException: %q outside SET, REMOVE or ADD", strings.Join(path, "."))
		}
	}
	return nil
}

// setPath sets the value at path (nil: removes it), copying every map on the way.
func setPath(item Item, path []string, v types.AttributeValue) error {
	if len(path) == 1 {
		if v == nil {
			delete(item, path[0])
		} else {
			item[path[0]] = v
		}
		return nil
	}
	m, ok := item[path[0]].(*types.AttributeValueMemberM)
	if !ok {
		return fmt.Errorf("ValidationException: The document path provided in the update expression is invalid for update")
	}
	inner := make(Item, len(m.Value)+1)
	for k, x := range m.Value {
		inner[k] = x
	}
	if err := setPath(inner, path[1:], v); err != nil {
		return err
	}
	item[path[0]] = &types.AttributeValueMemberM{Value: inner}
	return nil
}
