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
		name := p.path(p.next())
		if err := p.expect(")"); err != nil {
			return false, err
		}
		_, has := p.item[name]
		return has == (t == "attribute_exists"), nil
	}
	left, lok := p.operand(p.next())
	op := p.next()
	right, rok := p.operand(p.next())
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

func (p *parser) path(tok string) string {
	if strings.HasPrefix(tok, "#") {
		return p.names[tok]
	}
	return tok
}

// operand is a value placeholder or an attribute of the item.
func (p *parser) operand(tok string) (types.AttributeValue, bool) {
	if strings.HasPrefix(tok, ":") {
		v, ok := p.values[tok]
		return v, ok
	}
	v, ok := p.item[p.path(tok)]
	return v, ok
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
// number, ...) on item.
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
		name := p.path(p.next())
		switch section {
		case "SET":
			if err := p.expect("="); err != nil {
				return err
			}
			v, ok := p.operand(p.next())
			if !ok {
				return fmt.Errorf("ValidationException: SET %s to a missing value", name)
			}
			item[name] = v
		case "REMOVE":
			delete(item, name)
		case "ADD":
			v, ok := p.operand(p.next())
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
			return fmt.Errorf("ValidationException: %q outside SET, REMOVE or ADD", name)
		}
	}
	return nil
}
