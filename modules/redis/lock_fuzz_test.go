package grelredis

import (
	"strconv"
	"testing"
)

// parseReply reads whatever a (possibly foreign or corrupted) hash holds
// without panicking, and reports an expired or tokenless record as free.
func FuzzLockParseReply(f *testing.F) {
	f.Add(int64(1), int64(2_000_000), "tok", "holder", "3", "1", "1000", "1000000", "1500000", "2500000", `{"a":"b"}`)
	f.Add(int64(0), int64(5), "", "", "", "", "", "", "", "", "")
	f.Add(int64(1), int64(9), "t", "h", "x", "1e3", "-1", "nan", "1.5", "9999999999999999999", "{")
	f.Fuzz(func(t *testing.T, status, now int64, tok, holder, fence, trans, lease, acq, ren, exp, meta string) {
		res := []any{status, now, tok, holder, fence, trans, lease, acq, ren, exp, meta}
		rec, st, err := parseReply("n", res)
		if err != nil {
			return // bad metadata JSON
		}
		if st != status {
			t.Fatalf("status %d, want %d", st, status)
		}
		if rec.Name != "n" {
			t.Fatal("name lost")
		}
		e, perr := strconv.ParseInt(exp, 10, 64)
		if rec.Held() && (tok == "" || (perr == nil && e <= now)) {
			t.Fatalf("an expired or tokenless record reported held: %+v", rec)
		}
	})
}
