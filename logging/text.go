package grellog

import (
	"encoding/base64"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// textEncoder writes logfmt (key=value pairs, one entry per line) and, with
// pretty set, the human-readable format. Both share the value rules:
//
//   - a value is written bare when it is non-empty printable text without
//     space, '=', '"' or '\'; otherwise it is double-quoted with '"', '\'
//     and control characters escaped as in JSON (\n, \t, \u001b) and
//     invalid UTF-8 replaced by \ufffd, so every line is one line;
//   - keys are made valid logfmt keys: bytes that are space or control,
//     '=', '"' or invalid UTF-8 become '_', and an empty key (or segment of
//     a dotted key) becomes "_";
//   - objects and namespaces are flattened into dotted keys
//     (http.method=GET); an object with no field is written key={};
//   - arrays and reflected values are written as their compact JSON text.
type textEncoder struct {
	cfg    *zapcore.EncoderConfig
	pretty bool
	color  bool
	json   zapcore.Encoder // key-less JSON encoder for arrays and reflected values
	goDur  bool            // durations in Go syntax, written without allocating

	buf     *buffer.Buffer
	prefix  []byte // the open namespaces and objects, each followed by '.'
	scratch []byte
}

var (
	textPool   = sync.Pool{New: func() any { return &textEncoder{} }}
	bufferPool = buffer.NewPool()
)

// NewLogfmtEncoder returns a zapcore.Encoder writing logfmt lines. The
// entry's own parts come first (time, level, logger, caller, msg), then the
// fields, then the stack trace, each under cfg's keys (an empty key leaves
// the part out).
func NewLogfmtEncoder(cfg zapcore.EncoderConfig) zapcore.Encoder {
	return newText(cfg, false, false)
}

// NewPrettyEncoder returns a zapcore.Encoder writing lines for people:
// local time of day, level, logger name, message, then key=value fields and
// the caller; a stack trace follows on its own lines. With color it uses
// ANSI colours (meant for terminals only).
func NewPrettyEncoder(cfg zapcore.EncoderConfig, color bool) zapcore.Encoder {
	return newText(cfg, true, color)
}

func newText(cfg zapcore.EncoderConfig, pretty, color bool) *textEncoder {
	if cfg.EncodeTime == nil {
		cfg.EncodeTime = utcTimeEncoder
	}
	goDur := cfg.EncodeDuration == nil || sameFunc(cfg.EncodeDuration, zapcore.StringDurationEncoder)
	if cfg.EncodeDuration == nil {
		cfg.EncodeDuration = zapcore.StringDurationEncoder
	}
	if cfg.EncodeLevel == nil {
		cfg.EncodeLevel = zapcore.LowercaseLevelEncoder
	}
	if cfg.EncodeName == nil {
		cfg.EncodeName = zapcore.FullNameEncoder
	}
	if cfg.EncodeCaller == nil {
		cfg.EncodeCaller = zapcore.ShortCallerEncoder
	}
	jcfg := zapcore.EncoderConfig{
		EncodeTime:          cfg.EncodeTime,
		EncodeDuration:      cfg.EncodeDuration,
		NewReflectedEncoder: cfg.NewReflectedEncoder,
		LineEnding:          "\n",
	}
	return &textEncoder{cfg: &cfg, pretty: pretty, color: color, goDur: goDur, json: zapcore.NewJSONEncoder(jcfg), buf: bufferPool.Get()}
}

func sameFunc(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }

func (enc *textEncoder) clone() *textEncoder {
	c := textPool.Get().(*textEncoder)
	c.cfg, c.pretty, c.color, c.goDur, c.json = enc.cfg, enc.pretty, enc.color, enc.goDur, enc.json
	c.buf = bufferPool.Get()
	c.prefix = append(c.prefix[:0], enc.prefix...)
	c.scratch = c.scratch[:0]
	return c
}

func (enc *textEncoder) free() {
	enc.cfg, enc.json, enc.buf = nil, nil, nil
	textPool.Put(enc)
}

// Clone implements zapcore.Encoder.
func (enc *textEncoder) Clone() zapcore.Encoder {
	c := enc.clone()
	c.buf.AppendBytes(enc.buf.Bytes())
	return c
}

// ANSI colours of the pretty format.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
	ansiGray   = "\x1b[90m"
)

// EncodeEntry implements zapcore.Encoder.
func (enc *textEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	final := enc.clone()
	if enc.pretty {
		final.prettyHeader(ent)
	} else {
		final.logfmtHeader(ent)
	}
	if enc.buf.Len() > 0 {
		if final.buf.Len() > 0 {
			final.buf.AppendByte(' ')
		}
		final.buf.AppendBytes(enc.buf.Bytes())
	}
	for i := range fields {
		fields[i].AddTo(final)
	}
	if enc.pretty {
		if ent.Caller.Defined && final.cfg.CallerKey != "" {
			final.colored(ansiGray, func() {
				final.rawKey(final.cfg.CallerKey)
				final.cfg.EncodeCaller(ent.Caller, final)
			})
		}
		if ent.Stack != "" && final.cfg.StacktraceKey != "" {
			final.buf.AppendByte('\n')
			final.buf.AppendString(ent.Stack)
		}
	} else if ent.Stack != "" && final.cfg.StacktraceKey != "" {
		final.rawKey(final.cfg.StacktraceKey)
		final.AppendString(ent.Stack)
	}
	if !final.cfg.SkipLineEnding {
		if final.cfg.LineEnding != "" {
			final.buf.AppendString(final.cfg.LineEnding)
		} else {
			final.buf.AppendString(zapcore.DefaultLineEnding)
		}
	}
	out := final.buf
	final.free()
	return out, nil
}

func (enc *textEncoder) logfmtHeader(ent zapcore.Entry) {
	c := enc.cfg
	if c.TimeKey != "" && !ent.Time.IsZero() {
		enc.rawKey(c.TimeKey)
		enc.AppendTime(ent.Time)
	}
	if c.LevelKey != "" {
		enc.rawKey(c.LevelKey)
		n := enc.buf.Len()
		c.EncodeLevel(ent.Level, enc)
		if enc.buf.Len() == n {
			enc.AppendString(ent.Level.String())
		}
	}
	if c.NameKey != "" && ent.LoggerName != "" {
		enc.rawKey(c.NameKey)
		c.EncodeName(ent.LoggerName, enc)
	}
	if c.CallerKey != "" && ent.Caller.Defined {
		enc.rawKey(c.CallerKey)
		n := enc.buf.Len()
		c.EncodeCaller(ent.Caller, enc)
		if enc.buf.Len() == n {
			enc.AppendString(ent.Caller.String())
		}
	}
	if c.MessageKey != "" {
		enc.rawKey(c.MessageKey)
		enc.AppendString(ent.Message)
	}
}

func (enc *textEncoder) prettyHeader(ent zapcore.Entry) {
	c := enc.cfg
	if c.TimeKey != "" && !ent.Time.IsZero() {
		enc.colored(ansiGray, func() { enc.buf.AppendTime(ent.Time, prettyTimeLayout) })
		enc.buf.AppendByte(' ')
	}
	if c.LevelKey != "" {
		color, label := levelLabel(ent.Level)
		enc.colored(color, func() { enc.buf.AppendString(label) })
		enc.buf.AppendByte(' ')
	}
	if c.NameKey != "" && ent.LoggerName != "" {
		enc.colored(ansiBlue, func() { enc.writeEscaped(ent.LoggerName) })
		enc.buf.AppendByte(' ')
	}
	if c.MessageKey != "" {
		enc.colored(ansiBold, func() { enc.writeEscaped(ent.Message) })
	}
}

func levelLabel(l zapcore.Level) (color, label string) {
	switch {
	case l <= zapcore.DebugLevel:
		return ansiGray, "DEBUG"
	case l == zapcore.InfoLevel:
		return ansiGreen, "INFO "
	case l == zapcore.WarnLevel:
		return ansiYellow, "WARN "
	case l == zapcore.ErrorLevel:
		return ansiRed, "ERROR"
	case l == zapcore.DPanicLevel:
		return ansiRed, "DPANIC"
	case l == zapcore.PanicLevel:
		return ansiRed, "PANIC"
	}
	return ansiRed, "FATAL"
}

func (enc *textEncoder) colored(color string, write func()) {
	if enc.color {
		enc.buf.AppendString(color)
		write()
		enc.buf.AppendString(ansiReset)
		return
	}
	write()
}

// rawKey starts a pair for one of the entry's own keys (no namespace).
func (enc *textEncoder) rawKey(key string) {
	if enc.buf.Len() > 0 {
		enc.buf.AppendByte(' ')
	}
	enc.writeKey(nil, key)
	enc.buf.AppendByte('=')
}

// addKey starts a field's pair: separator, namespaces, key, '='.
func (enc *textEncoder) addKey(key string) {
	if enc.buf.Len() > 0 {
		enc.buf.AppendByte(' ')
	}
	if enc.color {
		color := ansiCyan
		if key == FieldError {
			color = ansiRed
		}
		enc.buf.AppendString(color)
		enc.writeKey(enc.prefix, key)
		enc.buf.AppendString(ansiReset)
	} else {
		enc.writeKey(enc.prefix, key)
	}
	enc.buf.AppendByte('=')
}

func (enc *textEncoder) writeKey(prefix []byte, key string) {
	enc.buf.AppendBytes(prefix)
	if key == "" {
		enc.buf.AppendByte('_')
		return
	}
	appendKey(enc.buf, key)
}

// appendKey writes key with every byte that cannot appear in a logfmt key
// replaced by '_'.
func appendKey(buf *buffer.Buffer, key string) {
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				c = '_'
			}
			buf.AppendByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(key[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			buf.AppendByte('_')
		} else {
			buf.AppendString(key[i : i+size])
		}
		i += size
	}
}

// sanitizeKey returns key as appendKey writes it, for namespaces.
func sanitizeKey(dst []byte, key string) []byte {
	b := bufferPool.Get()
	if key == "" {
		b.AppendByte('_')
	} else {
		appendKey(b, key)
	}
	dst = append(dst, b.Bytes()...)
	b.Free()
	return dst
}

// needsQuote reports whether a value must be quoted.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

const hexDigits = "0123456789abcdef"

// writeEscaped writes s with quotes, backslashes, control and non-printable
// characters escaped as in JSON and invalid UTF-8 replaced by \ufffd.
func (enc *textEncoder) writeEscaped(s string) {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			enc.buf.AppendString(s[start:i])
			switch c {
			case '"', '\\':
				enc.buf.AppendByte('\\')
				enc.buf.AppendByte(c)
			case '\n':
				enc.buf.AppendString(`\n`)
			case '\r':
				enc.buf.AppendString(`\r`)
			case '\t':
				enc.buf.AppendString(`\t`)
			default:
				enc.appendUnicodeEscape(rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			enc.buf.AppendString(s[start:i])
			enc.buf.AppendString(`\ufffd`)
			i++
			start = i
			continue
		}
		if !unicode.IsPrint(r) {
			enc.buf.AppendString(s[start:i])
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				enc.appendUnicodeEscape(r1)
				enc.appendUnicodeEscape(r2)
			} else {
				enc.appendUnicodeEscape(r)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	enc.buf.AppendString(s[start:])
}

func (enc *textEncoder) appendUnicodeEscape(r rune) {
	enc.buf.AppendString(`\u`)
	enc.buf.AppendByte(hexDigits[(r>>12)&0xf])
	enc.buf.AppendByte(hexDigits[(r>>8)&0xf])
	enc.buf.AppendByte(hexDigits[(r>>4)&0xf])
	enc.buf.AppendByte(hexDigits[r&0xf])
}

func (enc *textEncoder) appendValue(s string) {
	if !needsQuote(s) {
		enc.buf.AppendString(s)
		return
	}
	enc.buf.AppendByte('"')
	enc.writeEscaped(s)
	enc.buf.AppendByte('"')
}

func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendJSON writes the JSON text of one value, made by add on a key-less
// JSON encoder under the key "v".
func (enc *textEncoder) appendJSON(add func(zapcore.ObjectEncoder) error) error {
	j := enc.json.Clone()
	err := add(j)
	out, eerr := j.EncodeEntry(zapcore.Entry{}, nil)
	if eerr != nil {
		return eerr
	}
	b := out.Bytes()
	const head = `{"v":`
	if len(b) >= len(head)+2 && string(b[:len(head)]) == head {
		enc.appendValue(bytesString(b[len(head) : len(b)-2])) // drop "}\n"
	} else {
		enc.appendValue("")
	}
	out.Free()
	return err
}

// ObjectEncoder.

func (enc *textEncoder) AddArray(key string, arr zapcore.ArrayMarshaler) error {
	enc.addKey(key)
	return enc.AppendArray(arr)
}

func (enc *textEncoder) AddObject(key string, obj zapcore.ObjectMarshaler) error {
	saved := len(enc.prefix)
	enc.prefix = append(sanitizeKey(enc.prefix, key), '.')
	before := enc.buf.Len()
	err := obj.MarshalLogObject(enc)
	enc.prefix = enc.prefix[:saved]
	if enc.buf.Len() == before {
		enc.addKey(key)
		enc.buf.AppendString("{}")
	}
	return err
}

func (enc *textEncoder) AddBinary(key string, v []byte) {
	enc.addKey(key)
	enc.scratch = base64.StdEncoding.AppendEncode(enc.scratch[:0], v)
	enc.appendValue(bytesString(enc.scratch))
}

func (enc *textEncoder) AddByteString(key string, v []byte) {
	enc.addKey(key)
	enc.AppendByteString(v)
}

func (enc *textEncoder) AddBool(key string, v bool) { enc.addKey(key); enc.AppendBool(v) }
func (enc *textEncoder) AddComplex128(key string, v complex128) {
	enc.addKey(key)
	enc.AppendComplex128(v)
}
func (enc *textEncoder) AddComplex64(key string, v complex64) {
	enc.addKey(key)
	enc.AppendComplex64(v)
}
func (enc *textEncoder) AddDuration(key string, v time.Duration) {
	enc.addKey(key)
	enc.AppendDuration(v)
}
func (enc *textEncoder) AddFloat64(key string, v float64) { enc.addKey(key); enc.AppendFloat64(v) }
func (enc *textEncoder) AddFloat32(key string, v float32) { enc.addKey(key); enc.AppendFloat32(v) }
func (enc *textEncoder) AddInt(key string, v int)         { enc.addKey(key); enc.AppendInt64(int64(v)) }
func (enc *textEncoder) AddInt64(key string, v int64)     { enc.addKey(key); enc.AppendInt64(v) }
func (enc *textEncoder) AddInt32(key string, v int32)     { enc.addKey(key); enc.AppendInt64(int64(v)) }
func (enc *textEncoder) AddInt16(key string, v int16)     { enc.addKey(key); enc.AppendInt64(int64(v)) }
func (enc *textEncoder) AddInt8(key string, v int8)       { enc.addKey(key); enc.AppendInt64(int64(v)) }
func (enc *textEncoder) AddString(key, v string)          { enc.addKey(key); enc.AppendString(v) }
func (enc *textEncoder) AddTime(key string, v time.Time)  { enc.addKey(key); enc.AppendTime(v) }
func (enc *textEncoder) AddUint(key string, v uint)       { enc.addKey(key); enc.AppendUint64(uint64(v)) }
func (enc *textEncoder) AddUint64(key string, v uint64)   { enc.addKey(key); enc.AppendUint64(v) }
func (enc *textEncoder) AddUint32(key string, v uint32)   { enc.addKey(key); enc.AppendUint64(uint64(v)) }
func (enc *textEncoder) AddUint16(key string, v uint16)   { enc.addKey(key); enc.AppendUint64(uint64(v)) }
func (enc *textEncoder) AddUint8(key string, v uint8)     { enc.addKey(key); enc.AppendUint64(uint64(v)) }
func (enc *textEncoder) AddUintptr(key string, v uintptr) {
	enc.addKey(key)
	enc.AppendUint64(uint64(v))
}

func (enc *textEncoder) AddReflected(key string, v any) error {
	enc.addKey(key)
	return enc.AppendReflected(v)
}

func (enc *textEncoder) OpenNamespace(key string) {
	enc.prefix = append(sanitizeKey(enc.prefix, key), '.')
}

// ArrayEncoder: in this encoder an "append" writes the one value of the
// current pair (the entry encoders of zapcore call them that way).

func (enc *textEncoder) AppendArray(arr zapcore.ArrayMarshaler) error {
	return enc.appendJSON(func(j zapcore.ObjectEncoder) error { return j.AddArray("v", arr) })
}

func (enc *textEncoder) AppendObject(obj zapcore.ObjectMarshaler) error {
	return enc.appendJSON(func(j zapcore.ObjectEncoder) error { return j.AddObject("v", obj) })
}

func (enc *textEncoder) AppendReflected(v any) error {
	return enc.appendJSON(func(j zapcore.ObjectEncoder) error { return j.AddReflected("v", v) })
}

func (enc *textEncoder) AppendBool(v bool) { enc.buf.AppendBool(v) }
func (enc *textEncoder) AppendByteString(v []byte) {
	enc.appendValue(bytesString(v))
}

func (enc *textEncoder) AppendComplex128(v complex128) {
	enc.scratch = strconv.AppendFloat(enc.scratch[:0], real(v), 'g', -1, 64)
	if i := imag(v); i >= 0 || math.IsNaN(i) {
		enc.scratch = append(enc.scratch, '+')
	}
	enc.scratch = strconv.AppendFloat(enc.scratch, imag(v), 'g', -1, 64)
	enc.scratch = append(enc.scratch, 'i')
	enc.appendValue(bytesString(enc.scratch))
}

func (enc *textEncoder) AppendComplex64(v complex64) {
	enc.AppendComplex128(complex(float64(real(v)), float64(imag(v))))
}

func (enc *textEncoder) AppendDuration(v time.Duration) {
	if enc.goDur {
		enc.scratch = appendDuration(enc.scratch[:0], v)
		enc.buf.AppendBytes(enc.scratch)
		return
	}
	n := enc.buf.Len()
	enc.cfg.EncodeDuration(v, enc)
	if enc.buf.Len() == n {
		enc.AppendInt64(int64(v))
	}
}

func (enc *textEncoder) AppendFloat64(v float64) { enc.appendFloat(v, 64) }
func (enc *textEncoder) AppendFloat32(v float32) { enc.appendFloat(float64(v), 32) }

func (enc *textEncoder) appendFloat(v float64, bits int) {
	switch {
	case math.IsNaN(v):
		enc.buf.AppendString("NaN")
	case math.IsInf(v, 1):
		enc.buf.AppendString("+Inf")
	case math.IsInf(v, -1):
		enc.buf.AppendString("-Inf")
	default:
		enc.scratch = strconv.AppendFloat(enc.scratch[:0], v, 'g', -1, bits)
		enc.buf.AppendBytes(enc.scratch)
	}
}

func (enc *textEncoder) AppendInt(v int)     { enc.buf.AppendInt(int64(v)) }
func (enc *textEncoder) AppendInt64(v int64) { enc.buf.AppendInt(v) }
func (enc *textEncoder) AppendInt32(v int32) { enc.buf.AppendInt(int64(v)) }
func (enc *textEncoder) AppendInt16(v int16) { enc.buf.AppendInt(int64(v)) }
func (enc *textEncoder) AppendInt8(v int8)   { enc.buf.AppendInt(int64(v)) }
func (enc *textEncoder) AppendString(v string) {
	enc.appendValue(v)
}

func (enc *textEncoder) AppendTime(v time.Time) {
	n := enc.buf.Len()
	enc.cfg.EncodeTime(v, enc)
	if enc.buf.Len() == n {
		enc.AppendInt64(v.UnixNano())
	}
}

// AppendTimeLayout lets zapcore's layout time encoders write without
// allocating.
func (enc *textEncoder) AppendTimeLayout(t time.Time, layout string) {
	enc.scratch = t.AppendFormat(enc.scratch[:0], layout)
	enc.appendValue(bytesString(enc.scratch))
}

func (enc *textEncoder) AppendUint(v uint)       { enc.buf.AppendUint(uint64(v)) }
func (enc *textEncoder) AppendUint64(v uint64)   { enc.buf.AppendUint(v) }
func (enc *textEncoder) AppendUint32(v uint32)   { enc.buf.AppendUint(uint64(v)) }
func (enc *textEncoder) AppendUint16(v uint16)   { enc.buf.AppendUint(uint64(v)) }
func (enc *textEncoder) AppendUint8(v uint8)     { enc.buf.AppendUint(uint64(v)) }
func (enc *textEncoder) AppendUintptr(v uintptr) { enc.buf.AppendUint(uint64(v)) }

var (
	_ zapcore.Encoder      = (*textEncoder)(nil)
	_ zapcore.ArrayEncoder = (*textEncoder)(nil)
)

// appendDuration appends d as time.Duration.String writes it.
func appendDuration(b []byte, d time.Duration) []byte {
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u // also right for math.MinInt64
	}
	if u < uint64(time.Second) {
		switch {
		case u == 0:
			return append(b, "0s"...)
		case u < uint64(time.Microsecond):
			return append(strconv.AppendUint(b, u, 10), "ns"...)
		case u < uint64(time.Millisecond):
			return append(appendFraction(b, u, 3), "µs"...)
		default:
			return append(appendFraction(b, u, 6), "ms"...)
		}
	}
	h := u / uint64(time.Hour)
	u -= h * uint64(time.Hour)
	m := u / uint64(time.Minute)
	u -= m * uint64(time.Minute)
	if h > 0 {
		b = append(strconv.AppendUint(b, h, 10), 'h')
	}
	if h > 0 || m > 0 {
		b = append(strconv.AppendUint(b, m, 10), 'm')
	}
	return append(appendFraction(b, u, 9), 's')
}

// appendFraction appends u / 10^digits with the fraction's trailing zeros
// removed (and no point when nothing remains).
func appendFraction(b []byte, u uint64, digits int) []byte {
	p := uint64(1)
	for range digits {
		p *= 10
	}
	b = strconv.AppendUint(b, u/p, 10)
	frac := u % p
	if frac == 0 {
		return b
	}
	var d [9]byte
	for i := digits - 1; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := digits
	for d[n-1] == '0' {
		n--
	}
	return append(append(b, '.'), d[:n]...)
}
