package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCalendarAlwaysOn(t *testing.T) {
	c := Calendar{AlwaysOn: true}
	tokyo := mustLoc(t, "Asia/Tokyo")
	start := time.Date(2026, 6, 6, 23, 30, 0, 5, tokyo) // a Saturday night: no matter on 24x7
	tests := []struct {
		d    time.Duration
		want time.Time
	}{
		{0, start},
		{-time.Hour, start},
		{time.Nanosecond, start.Add(time.Nanosecond)},
		{4 * time.Hour, start.Add(4 * time.Hour)},
		{72 * time.Hour, start.Add(72 * time.Hour)},
	}
	for _, tt := range tests {
		got := c.Add(start, tt.d)
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("Add(%v) = %v, want %v in UTC", tt.d, got, tt.want.UTC())
		}
	}
	if got := c.Elapsed(start, start.Add(50*time.Hour)); got != 50*time.Hour {
		t.Errorf("Elapsed = %v, want 50h", got)
	}
	if got := c.Elapsed(start, start.Add(-time.Hour)); got != 0 {
		t.Errorf("Elapsed backwards = %v, want 0", got)
	}
}

func TestCalendarAddBusinessHours(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	at := func(day, hour, min int) time.Time { return time.Date(2026, 6, day, hour, min, 0, 0, tokyo) }
	if at(5, 0, 0).Weekday() != time.Friday {
		t.Fatal("2026-06-05 is not a Friday; the cases below assume it is")
	}
	plain := tokyoHours()
	holiday := tokyoHours()
	holiday.Holidays = []string{"2026-06-08"} // Monday
	tests := []struct {
		name  string
		cal   Calendar
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"Friday 17:00 plus 4h is Monday 12:00", plain, at(5, 17, 0), 4 * time.Hour, at(8, 12, 0)},
		{"across a Monday holiday to Tuesday 12:00", holiday, at(5, 17, 0), 4 * time.Hour, at(9, 12, 0)},
		{"before hours starts at 09:00", plain, at(3, 7, 0), 2 * time.Hour, at(3, 11, 0)},
		{"after hours goes to the next morning", plain, at(3, 20, 0), 2 * time.Hour, at(4, 11, 0)},
		{"on the weekend goes to Monday", plain, at(6, 10, 0), 2 * time.Hour, at(8, 11, 0)},
		{"Sunday night", plain, at(7, 23, 59), time.Minute, at(8, 9, 1)},
		{"inside hours", plain, at(3, 10, 15), 90 * time.Minute, at(3, 11, 45)},
		{"ending exactly at closing stays that day", plain, at(3, 17, 0), time.Hour, at(3, 18, 0)},
		{"one nanosecond past closing", plain, at(3, 17, 0), time.Hour + time.Nanosecond, at(4, 9, 0).Add(time.Nanosecond)},
		{"at closing time counts from the next morning", plain, at(3, 18, 0), time.Minute, at(4, 9, 1)},
		{"three working days", plain, at(1, 9, 0), 27 * time.Hour, at(3, 18, 0)},
		{"5d is 120 working hours", plain, at(1, 9, 0), 5 * 24 * time.Hour, at(18, 12, 0)},
		{"zero returns start", plain, at(6, 10, 0), 0, at(6, 10, 0)},
		{"negative returns start", plain, at(6, 10, 0), -time.Hour, at(6, 10, 0)},
		{"nanoseconds are kept", plain, at(3, 9, 0).Add(123), 456, at(3, 9, 0).Add(579)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.Add(tt.start, tt.d)
			if !got.Equal(tt.want) {
				t.Errorf("Add(%v, %v) = %v, want %v", tt.start, tt.d, got.In(tokyo), tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("result in %v, want UTC", got.Location())
			}
			if tt.d > 0 {
				if e := tt.cal.Elapsed(tt.start, got); e != tt.d {
					t.Errorf("Elapsed(start, Add(start, d)) = %v, want %v", e, tt.d)
				}
			}
		})
	}
}

func TestCalendarElapsed(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	at := func(day, hour, min int) time.Time { return time.Date(2026, 6, day, hour, min, 0, 0, tokyo) }
	plain := tokyoHours()
	holiday := tokyoHours()
	holiday.Holidays = []string{"2026-06-08"}
	tests := []struct {
		name     string
		cal      Calendar
		from, to time.Time
		want     time.Duration
	}{
		{"over a weekend", plain, at(5, 17, 0), at(8, 10, 0), 2 * time.Hour},
		{"closing Friday to opening Monday", plain, at(5, 18, 0), at(8, 9, 0), 0},
		{"over a holiday", holiday, at(5, 17, 0), at(9, 10, 0), 2 * time.Hour},
		{"a whole week", plain, at(1, 0, 0), at(8, 0, 0), 45 * time.Hour},
		{"within one window", plain, at(3, 10, 0), at(3, 10, 30), 30 * time.Minute},
		{"night only", plain, at(3, 18, 30), at(4, 8, 59), 0},
		{"to before from", plain, at(4, 12, 0), at(3, 12, 0), 0},
		{"empty interval", plain, at(4, 12, 0), at(4, 12, 0), 0},
		{"across a month end", plain, at(30, 17, 0), time.Date(2026, 7, 1, 10, 0, 0, 0, tokyo), 2 * time.Hour},
		{"in another zone's terms", plain, time.Date(2026, 6, 5, 8, 0, 0, 0, time.UTC), time.Date(2026, 6, 8, 1, 0, 0, 0, time.UTC), 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.Elapsed(tt.from, tt.to); got != tt.want {
				t.Errorf("Elapsed(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

// Europe/Berlin moves from CET (+1) to CEST (+2) at 02:00 on the last Sunday
// of March (2026-03-29) and back at 03:00 on the last Sunday of October
// (2026-10-25). Windows are built from wall-clock times in the zone, so
// durations are real elapsed time.
func TestCalendarDST(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	at := func(m time.Month, day, hour, min int) time.Time {
		return time.Date(2026, m, day, hour, min, 0, 0, berlin)
	}
	utc := func(m time.Month, day, hour, min int) time.Time {
		return time.Date(2026, m, day, hour, min, 0, 0, time.UTC)
	}
	week := Calendar{Timezone: "Europe/Berlin", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "09:00-18:00"}
	everyDay := Calendar{Timezone: "Europe/Berlin", Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Hours: "09:00-18:00"}
	wholeDays := Calendar{Timezone: "Europe/Berlin", Days: everyDay.Days, Hours: "00:00-24:00"}
	night := Calendar{Timezone: "Europe/Berlin", Days: everyDay.Days, Hours: "01:00-04:00"}

	addTests := []struct {
		name  string
		cal   Calendar
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"Friday CET to Monday CEST", week, at(3, 27, 17, 0), 4 * time.Hour, utc(3, 30, 10, 0)},
		{"Saturday CET to Sunday CEST", everyDay, at(3, 28, 17, 0), 2 * time.Hour, utc(3, 29, 8, 0)},
		{"Saturday CEST to Sunday CET", everyDay, at(10, 24, 17, 0), 2 * time.Hour, utc(10, 25, 9, 0)},
		{"a 23-hour day", wholeDays, at(3, 29, 0, 0), 23 * time.Hour, utc(3, 29, 22, 0)},
		{"a 25-hour day", wholeDays, at(10, 25, 0, 0), 25 * time.Hour, utc(10, 25, 23, 0)},
		{"spring night window is two hours", night, at(3, 29, 0, 0), 2 * time.Hour, utc(3, 29, 2, 0)},
		{"spring night window, one more minute", night, at(3, 29, 0, 0), 2*time.Hour + time.Minute, utc(3, 29, 23, 1)},
	}
	for _, tt := range addTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.Add(tt.start, tt.d); !got.Equal(tt.want) {
				t.Errorf("Add(%v, %v) = %v, want %v", tt.start, tt.d, got, tt.want)
			}
		})
	}

	elapsedTests := []struct {
		name     string
		cal      Calendar
		from, to time.Time
		want     time.Duration
	}{
		{"weekend of the spring change", wholeDays, at(3, 28, 0, 0), at(3, 30, 0, 0), 47 * time.Hour},
		{"weekend of the autumn change", wholeDays, at(10, 24, 0, 0), at(10, 26, 0, 0), 49 * time.Hour},
		{"business week across the change", week, at(3, 27, 17, 0), at(3, 30, 10, 0), 2 * time.Hour},
		{"spring night window", night, at(3, 29, 0, 0), at(3, 30, 0, 0), 2 * time.Hour},
		{"autumn night window", night, at(10, 25, 0, 0), at(10, 26, 0, 0), 4 * time.Hour},
		{"office hours are nine hours on the change day", everyDay, at(3, 29, 0, 0), at(3, 30, 0, 0), 9 * time.Hour},
	}
	for _, tt := range elapsedTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.Elapsed(tt.from, tt.to); got != tt.want {
				t.Errorf("Elapsed(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

// The documented relation of Add and Elapsed, and Elapsed against a
// minute-by-minute count, over seeded random inputs and varied calendars.
func TestCalendarProperties(t *testing.T) {
	calendars := []Calendar{
		{Timezone: "Asia/Tokyo", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "09:00-18:00",
			Holidays: []string{"2026-01-01", "2026-01-02", "2026-05-04", "2026-05-05", "2026-05-06", "2026-12-31", "2027-01-01"}},
		{Timezone: "Europe/Berlin", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "08:30-17:15",
			Holidays: []string{"2026-04-03", "2026-04-06", "2026-12-24", "2026-12-25"}},
		{Timezone: "Europe/Berlin", Days: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, Hours: "00:00-24:00"},
		{Timezone: "America/New_York", Days: []string{"sat", "sun"}, Hours: "22:00-24:00"},
		{Timezone: "Asia/Kolkata", Days: []string{"wed", "mon"}, Hours: "10:15-10:45"},
		{Days: []string{"tue"}, Hours: "00:00-00:01"},
	}
	r := rand.New(rand.NewPCG(20260329, 1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	randTime := func(span time.Duration) time.Time { return base.Add(time.Duration(r.Int64N(int64(span)))) }

	for ci, cal := range calendars {
		oracle := newOracle(t, cal)
		// Targets up to what 60 calendar days hold, so sparse calendars
		// are walked over months, not centuries.
		maxD := cal.Elapsed(base, base.Add(60*24*time.Hour))
		for i := range 400 {
			start := randTime(2 * 365 * 24 * time.Hour)
			d := time.Duration(r.Int64N(int64(maxD)))
			if i%10 == 0 {
				d = d.Truncate(time.Hour) // land on window edges too
			}
			u := cal.Add(start, d)
			if u.Before(start) || u.Location() != time.UTC {
				t.Fatalf("cal %d: Add(%v, %v) = %v: before start or not UTC", ci, start, d, u)
			}
			if e := cal.Elapsed(start, u); e != d {
				t.Fatalf("cal %d: Elapsed(start, Add(start, %v)) = %v", ci, d, e)
			}
			// Earliest: the nanosecond before the result is working time.
			if d > 0 && !oracle.working(u.Add(-1)) {
				t.Fatalf("cal %d: Add(%v, %v) = %v, but just before it is not working time", ci, start, d, u)
			}
			if d2 := time.Duration(r.Int64N(int64(d) + 1)); cal.Add(start, d2).After(u) {
				t.Fatalf("cal %d: Add not monotonic: Add(%v) after Add(%v)", ci, d2, d)
			}

			end := start.Add(time.Duration(r.Int64N(int64(40 * 24 * time.Hour))))
			e := cal.Elapsed(start, end)
			v := cal.Add(start, e)
			switch {
			case v.After(end):
				t.Fatalf("cal %d: Add(start, Elapsed(start, %v)) = %v, after it", ci, end, v)
			case cal.Elapsed(start, v) != e:
				t.Fatalf("cal %d: Elapsed(start, %v) = %v, want %v", ci, v, cal.Elapsed(start, v), e)
			case cal.Elapsed(v, end) != 0:
				t.Fatalf("cal %d: working time between %v and %v", ci, v, end)
			case oracle.working(end) && !v.Equal(end):
				t.Fatalf("cal %d: end %v is working time but Add(start, Elapsed) = %v", ci, end, v)
			}
			mid := start.Add(time.Duration(r.Int64N(int64(end.Sub(start)) + 1)))
			if a, b := cal.Elapsed(start, mid), cal.Elapsed(mid, end); a+b != e {
				t.Fatalf("cal %d: Elapsed not additive: %v + %v != %v", ci, a, b, e)
			}
		}
		for range 40 {
			from := randTime(2 * 365 * 24 * time.Hour).Truncate(time.Minute)
			to := from.Add(time.Duration(r.IntN(5*24*60)) * time.Minute)
			var want time.Duration
			for m := from; m.Before(to); m = m.Add(time.Minute) {
				if oracle.working(m) {
					want += time.Minute
				}
			}
			if got := cal.Elapsed(from, to); got != want {
				t.Fatalf("cal %d: Elapsed(%v, %v) = %v, minute count %v", ci, from, to, got, want)
			}
		}
	}
}

// oracle answers "is t working time?" from the wall clock alone, as a person
// reading the calendar would: an independent check of the window arithmetic.
type oracle struct {
	loc        *time.Location
	days       []string
	start, end int
	holidays   []string
}

func newOracle(t *testing.T, c Calendar) oracle {
	loc := mustLoc(t, c.Timezone)
	var sh, sm, eh, em int
	if _, err := fmt.Sscanf(c.Hours, "%d:%d-%d:%d", &sh, &sm, &eh, &em); err != nil {
		t.Fatal(err)
	}
	return oracle{loc: loc, days: c.Days, start: sh*60 + sm, end: eh*60 + em, holidays: c.Holidays}
}

func (o oracle) working(t time.Time) bool {
	lt := t.In(o.loc)
	day := strings.ToLower(lt.Weekday().String()[:3])
	m := lt.Hour()*60 + lt.Minute()
	return slices.Contains(o.days, day) && !slices.Contains(o.holidays, lt.Format(time.DateOnly)) && o.start <= m && m < o.end
}

func TestCalendarAddGuard(t *testing.T) {
	// Every Monday for eleven years is a holiday: no working time at all.
	var holidays []string
	for d := time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC); d.Year() < 2037; d = d.AddDate(0, 0, 7) {
		holidays = append(holidays, d.Format(time.DateOnly))
	}
	c := Calendar{Timezone: "UTC", Days: []string{"mon"}, Hours: "09:00-17:00", Holidays: holidays}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	if got := c.Add(start, time.Hour); !got.Equal(start.Add(time.Hour)) {
		t.Errorf("Add = %v, want the 24x7 fallback %v", got, start.Add(time.Hour))
	}
	if got := c.Elapsed(start, start.AddDate(1, 0, 0)); got != 0 {
		t.Errorf("Elapsed = %v, want 0", got)
	}
}

func TestCalendarInvalidCountsAs24x7(t *testing.T) {
	start := time.Date(2026, 6, 6, 10, 0, 0, 0, time.UTC)
	for _, c := range []Calendar{
		{},
		{Timezone: "Nowhere/City", Days: []string{"mon"}, Hours: "09:00-18:00"},
		{Timezone: "UTC", Days: []string{"mon"}, Hours: "18:00-09:00"},
		{Timezone: "UTC", Days: []string{"funday"}, Hours: "09:00-18:00"},
	} {
		if c.Validate() == nil {
			t.Fatalf("%+v is valid; the test needs an invalid calendar", c)
		}
		if got := c.Add(start, time.Hour); !got.Equal(start.Add(time.Hour)) {
			t.Errorf("%+v: Add = %v", c, got)
		}
		if got := c.Elapsed(start, start.Add(time.Hour)); got != time.Hour {
			t.Errorf("%+v: Elapsed = %v", c, got)
		}
	}
}

func TestCalendarYAML(t *testing.T) {
	tests := []struct {
		doc  string
		want Calendar
	}{
		{"c: 24x7\n", Calendar{AlwaysOn: true}},
		{"c: {timezone: Asia/Tokyo, days: [mon, fri], hours: '09:00-18:00', holidays: [2026-12-31]}\n",
			Calendar{Timezone: "Asia/Tokyo", Days: []string{"mon", "fri"}, Hours: "09:00-18:00", Holidays: []string{"2026-12-31"}}},
		{"c: {timezone: UTC, days: [sat], hours: 00:00-24:00}\n", Calendar{Timezone: "UTC", Days: []string{"sat"}, Hours: "00:00-24:00"}},
	}
	for _, tt := range tests {
		var v struct {
			C Calendar `yaml:"c"`
		}
		if err := yaml.Unmarshal([]byte(tt.doc), &v); err != nil {
			t.Errorf("%q: %v", tt.doc, err)
			continue
		}
		if !reflect.DeepEqual(v.C, tt.want) {
			t.Errorf("%q = %+v, want %+v", tt.doc, v.C, tt.want)
		}
		out, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			C Calendar `yaml:"c"`
		}
		if err := yaml.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(back.C, tt.want) {
			t.Errorf("YAML round trip %q -> %q -> %+v, %v", tt.doc, out, back.C, err)
		}
	}
	for _, doc := range []string{"c: 24/7\n", "c: {timezone: UTC, shifts: 2}\n", "c: [mon]\n", "c: {}\n"} {
		var v struct {
			C Calendar `yaml:"c"`
		}
		if err := yaml.Unmarshal([]byte(doc), &v); err == nil || !strings.Contains(err.Error(), "calendar") {
			t.Errorf("%q: got %v, want a calendar error", doc, err)
		}
	}
}

func TestCalendarJSONRoundTrip(t *testing.T) {
	for _, c := range []Calendar{
		{AlwaysOn: true},
		tokyoHours(),
		{Timezone: "Europe/Berlin", Days: []string{"mon"}, Hours: "08:00-12:00", Holidays: []string{"2026-12-24"}},
	} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Calendar
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s -> %+v, want %+v", b, back, c)
		}
	}
}
