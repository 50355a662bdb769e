package grelratelimit_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// A small parser of structured field Lists (RFC 9651), strict enough to
// refuse what a client parser would: it checks that the RateLimit fields
// follow the draft's syntax.

type sfItem struct {
	value  any // string (sf-string), sfToken, int64, float64, bool, []byte
	params map[string]any
	order  []string
}

type sfToken string

var errSF = errors.New("not a structured field")

func parseSFList(s string) ([]sfItem, error) {
	p := &sfParser{s: s}
	p.sp()
	var out []sfItem
	if p.eof() {
		return nil, nil
	}
	for {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		p.ows()
		if p.eof() {
			return out, nil
		}
		if p.next() != ',' {
			return nil, errSF
		}
		p.ows()
		if p.eof() {
			return nil, errSF // a trailing comma
		}
	}
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) eof() bool  { return p.i >= len(p.s) }
func (p *sfParser) peek() byte { return p.s[p.i] }
func (p *sfParser) next() byte { c := p.s[p.i]; p.i++; return c }
func (p *sfParser) sp() {
	for !p.eof() && p.peek() == ' ' {
		p.i++
	}
}
func (p *sfParser) ows() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

func (p *sfParser) item() (sfItem, error) {
	v, err := p.bare()
	if err != nil {
		return sfItem{}, err
	}
	it := sfItem{value: v, params: map[string]any{}}
	for !p.eof() && p.peek() == ';' {
		p.i++
		p.sp()
		k, err := p.key()
		if err != nil {
			return sfItem{}, err
		}
		var pv any = true
		if !p.eof() && p.peek() == '=' {
			p.i++
			if pv, err = p.bare(); err != nil {
				return sfItem{}, err
			}
		}
		if _, dup := it.params[k]; !dup {
			it.order = append(it.order, k)
		}
		it.params[k] = pv
	}
	return it, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.eof() || (p.peek() < 'a' || p.peek() > 'z') && p.peek() != '*' {
		return "", errSF
	}
	for !p.eof() {
		c := p.peek()
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bare() (any, error) {
	if p.eof() {
		return nil, errSF
	}
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		return p.str()
	case c == ':':
		p.i++
		end := strings.IndexByte(p.s[p.i:], ':')
		if end < 0 {
			return nil, errSF
		}
		b, err := base64.StdEncoding.DecodeString(p.s[p.i : p.i+end])
		p.i += end + 1
		return b, err
	case c == '?':
		p.i++
		if p.eof() {
			return nil, errSF
		}
		switch p.next() {
		case '0':
			return false, nil
		case '1':
			return true, nil
		}
		return nil, errSF
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		start := p.i
		for !p.eof() && (strings.IndexByte(":/!#$%&'*+-.^_`|~", p.peek()) >= 0 ||
			p.peek() >= 'a' && p.peek() <= 'z' || p.peek() >= 'A' && p.peek() <= 'Z' || p.peek() >= '0' && p.peek() <= '9') {
			p.i++
		}
		return sfToken(p.s[start:p.i]), nil
	}
	return nil, errSF
}

func (p *sfParser) number() (any, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits, dot := 0, -1
	for !p.eof() {
		c := p.peek()
		if c >= '0' && c <= '9' {
			digits++
			p.i++
			continue
		}
		if c == '.' && dot < 0 {
			dot = digits
			p.i++
			continue
		}
		break
	}
	text := p.s[start:p.i]
	if digits == 0 {
		return nil, errSF
	}
	if dot < 0 {
		if digits > 15 {
			return nil, errSF
		}
		return strconv.ParseInt(text, 10, 64)
	}
	if dot > 12 || digits-dot > 3 || digits == dot {
		return nil, errSF
	}
	return strconv.ParseFloat(text, 64)
}

func (p *sfParser) str() (any, error) {
	p.i++ // the opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.next()
		switch {
		case c == '\\':
			if p.eof() {
				return nil, errSF
			}
			e := p.next()
			if e != '"' && e != '\\' {
				return nil, errSF
			}
			b.WriteByte(e)
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return nil, errSF
		default:
			b.WriteByte(c)
		}
	}
	return nil, errSF
}
