package cases

import (
	"errors"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 3, 17, 10, 30, 0, 0, time.FixedZone("JST", 9*3600))
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		from, to         string
		wantFrom, wantTo time.Time
	}{
		{"", "", day(3, 1), now.UTC()},                           // the month to date
		{"2026-03-01", "2026-03-31", day(3, 1), day(4, 1)},       // a date as to is its whole day
		{"", "2026-04-01T00:00:00Z", day(3, 1), day(4, 1)},       // March
		{"", "2026-03-31", day(3, 1), day(4, 1)},                 // March too
		{"2026-03-10T09:00:00+09:00", "", day(3, 10), now.UTC()}, // an offset
		{"2026-01-01", "2026-12-31", day(1, 1), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2028-01-01", "2028-12-31", time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)}, // 366 days
	} {
		from, to, err := ParsePeriod(c.from, c.to, now)
		if err != nil || !from.Equal(c.wantFrom) || !to.Equal(c.wantTo) || from.Location() != time.UTC || to.Location() != time.UTC {
			t.Errorf("ParsePeriod(%q, %q) = %s, %s, %v; want %s, %s", c.from, c.to, from, to, err, c.wantFrom, c.wantTo)
		}
	}
	for _, c := range []struct{ from, to string }{
		{"yesterday", ""}, {"", "2026-13-01"}, {"2026-02-30", ""}, {"03/01/2026", ""},
		{"2026-03-02", "2026-03-01"},                     // ends before it starts
		{"2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"}, // empty
		{"2026-01-01", "2027-01-02"},                     // 367 days: a date as to is inclusive
		{"2026-04-01", ""},                               // after now
	} {
		if _, _, err := ParsePeriod(c.from, c.to, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePeriod(%q, %q): %v, want ErrInvalid", c.from, c.to, err)
		}
	}
}
