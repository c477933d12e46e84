package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	// The zone database is compiled in so that a calendar computes the same
	// instants on every worker, including minimal containers without
	// /usr/share/zoneinfo.
	_ "time/tzdata"

	"gopkg.in/yaml.v3"
)

// Calendar says when SLA clocks run. In YAML it is either the scalar "24x7"
// or a mapping:
//
//	calendar:
//	  timezone: Asia/Tokyo
//	  days: [mon, tue, wed, thu, fri]
//	  hours: "09:00-18:00"
//	  holidays: ["2026-12-31", "2027-01-01"]
//
// Working time is the union, over every listed day that is not a holiday, of
// the window [date hours.start, date hours.end) in Timezone. Windows are built
// with time.Date in the zone, so a window on a daylight-saving changeover day
// is as long as the clock really runs (09:00-18:00 is still nine hours; a
// window that spans the changeover is one hour shorter or longer). An end of
// "24:00" means the following midnight; windows never span midnight.
//
// A Calendar is copied into workflow inputs, so it is plain data that
// round-trips through encoding/json, and its arithmetic (Add, Elapsed) is
// deterministic: it depends only on its arguments and the zone database.
type Calendar struct {
	AlwaysOn bool     `json:"always_on"`
	Timezone string   `json:"timezone,omitempty"`
	Days     []string `json:"days,omitempty"`
	Hours    string   `json:"hours,omitempty"`
	Holidays []string `json:"holidays,omitempty"`
}

// alwaysOnLabel is how a 24x7 calendar is written in YAML.
const alwaysOnLabel = "24x7"

// maxIdleDays bounds Add: a calendar that has no working time for this many
// consecutive days is treated as 24x7 (Validate rejects such calendars; the
// guard only keeps a bad one from looping for ever).
const maxIdleDays = 3660

// UnmarshalYAML implements yaml.Unmarshaler. Unknown keys in the mapping form
// are errors, as everywhere else in the configuration.
func (c *Calendar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == alwaysOnLabel {
			*c = Calendar{AlwaysOn: true}
			return nil
		}
		return fmt.Errorf("line %d: calendar %q: want %s or a mapping with timezone, days, hours and holidays", n.Line, n.Value, alwaysOnLabel)
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return fmt.Errorf("line %d: calendar: an empty mapping; write %s or give timezone, days and hours", n.Line, alwaysOnLabel)
		}
		for i := 0; i < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "timezone", "days", "hours", "holidays":
			default:
				return fmt.Errorf("line %d: field %s not found in calendar (want timezone, days, hours, holidays)", k.Line, k.Value)
			}
		}
		var raw struct {
			Timezone string   `yaml:"timezone"`
			Days     []string `yaml:"days"`
			Hours    string   `yaml:"hours"`
			Holidays []string `yaml:"holidays"`
		}
		if err := n.Decode(&raw); err != nil {
			return err
		}
		*c = Calendar{Timezone: raw.Timezone, Days: raw.Days, Hours: raw.Hours, Holidays: raw.Holidays}.clone()
		return nil
	default:
		return fmt.Errorf("line %d: calendar: want %s or a mapping with timezone, days, hours and holidays", n.Line, alwaysOnLabel)
	}
}

// MarshalYAML implements yaml.Marshaler with the same two forms.
func (c Calendar) MarshalYAML() (any, error) {
	if c.AlwaysOn {
		return alwaysOnLabel, nil
	}
	return struct {
		Timezone string   `yaml:"timezone,omitempty"`
		Days     []string `yaml:"days,flow,omitempty"`
		Hours    string   `yaml:"hours,omitempty"`
		Holidays []string `yaml:"holidays,omitempty"`
	}{c.Timezone, c.Days, c.Hours, c.Holidays}, nil
}

// Validate reports every problem of the calendar, each prefixed "calendar.".
func (c Calendar) Validate() error { return errors.Join(c.problems("calendar")...) }

func (c Calendar) problems(path string) []error {
	var errs []error
	add := func(p, format string, args ...any) {
		errs = append(errs, &FieldError{Path: p, Problem: fmt.Sprintf(format, args...)})
	}
	if c.AlwaysOn {
		if c.Timezone != "" || len(c.Days) > 0 || c.Hours != "" || len(c.Holidays) > 0 {
			add(path, "%s takes no timezone, days, hours or holidays", alwaysOnLabel)
		}
		return errs
	}
	if _, err := loadLocation(c.Timezone); err != nil {
		add(path+".timezone", "%v", err)
	}
	if len(c.Days) == 0 {
		add(path+".days", "must name at least one day (mon, tue, wed, thu, fri, sat, sun)")
	}
	for i, d := range c.Days {
		if _, ok := weekday(d); !ok {
			add(fmt.Sprintf("%s.days[%d]", path, i), "%q is not one of mon, tue, wed, thu, fri, sat, sun", d)
		} else if slices.Index(c.Days, d) < i {
			add(fmt.Sprintf("%s.days[%d]", path, i), "%q is listed twice", d)
		}
	}
	if _, _, err := parseHours(c.Hours); err != nil {
		add(path+".hours", "%v", err)
	}
	for i, h := range c.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			add(fmt.Sprintf("%s.holidays[%d]", path, i), "%q is not a date like 2026-12-31", h)
		}
	}
	return errs
}

// Add returns the instant at which d of working time has passed since start,
// in UTC. On a 24x7 calendar that is start.Add(d); d <= 0 returns start.
// When d runs out exactly at the end of a window, the result is that end
// (Friday 17:00 plus one hour is Friday 18:00, not Monday 09:00).
//
// Add and Elapsed are inverse in this sense, for start <= t and d >= 0:
//
//	Elapsed(start, Add(start, d)) == d
//	u := Add(start, Elapsed(start, t)) is the earliest instant u >= start with
//	Elapsed(start, u) == Elapsed(start, t); so u <= t, Elapsed(u, t) == 0, and
//	u == t whenever t lies in working time or at the end of a window. For t in
//	non-working time, u is the end of the last window before t (or start).
//
// A calendar that fails Validate is counted as 24x7, so a bad configuration
// never stops a clock.
func (c Calendar) Add(start time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return start.UTC()
	}
	s, ok := c.compile()
	if !ok {
		return start.Add(d).UTC()
	}
	y, m, day := start.In(s.loc).Date()
	cur, rem := start, d
	// Start one day early: cheap insurance against a zone whose previous
	// local day reaches past the midnight that In reports.
	for i, idle := -1, 0; idle <= maxIdleDays; i++ {
		ws, we, working := s.window(y, m, day+i)
		if !working || !we.After(cur) {
			idle++
			continue
		}
		from := ws
		if cur.After(from) {
			from = cur
		}
		avail := we.Sub(from)
		if rem <= avail {
			return from.Add(rem).UTC()
		}
		rem -= avail
		cur = we
		idle = 0
	}
	return start.Add(d).UTC()
}

// Elapsed returns the working time inside [from, to); 0 if to <= from. On a
// 24x7 calendar that is to.Sub(from).
func (c Calendar) Elapsed(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	s, ok := c.compile()
	if !ok {
		return to.Sub(from)
	}
	y, m, day := from.In(s.loc).Date()
	var total time.Duration
	for i := -1; ; i++ {
		ws, we, working := s.window(y, m, day+i)
		if !ws.Before(to) {
			return total
		}
		if !working {
			continue
		}
		a, b := ws, we
		if from.After(a) {
			a = from
		}
		if to.Before(b) {
			b = to
		}
		if b.After(a) {
			total += b.Sub(a)
		}
	}
}

// clone returns a deep copy; empty slices become nil so that the copy
// survives a JSON round trip (omitempty) unchanged.
func (c Calendar) clone() Calendar {
	c.Days = cloneStrings(c.Days)
	c.Holidays = cloneStrings(c.Holidays)
	return c
}

// schedule is a Calendar parsed for arithmetic.
type schedule struct {
	loc              *time.Location
	days             [7]bool
	startMin, endMin int
	holidays         map[civilDate]bool
}

type civilDate struct {
	y int
	m time.Month
	d int
}

// compile parses c; ok is false for 24x7 and for calendars that fail
// Validate, which Add and Elapsed then count as 24x7.
func (c Calendar) compile() (s schedule, ok bool) {
	if c.AlwaysOn {
		return s, false
	}
	var err error
	if s.loc, err = loadLocation(c.Timezone); err != nil {
		return s, false
	}
	for _, d := range c.Days {
		wd, known := weekday(d)
		if !known {
			return s, false
		}
		s.days[wd] = true
	}
	if len(c.Days) == 0 {
		return s, false
	}
	if s.startMin, s.endMin, err = parseHours(c.Hours); err != nil {
		return s, false
	}
	s.holidays = make(map[civilDate]bool, len(c.Holidays))
	for _, h := range c.Holidays {
		t, err := time.Parse(time.DateOnly, h)
		if err != nil {
			return s, false
		}
		y, m, d := t.Date()
		s.holidays[civilDate{y, m, d}] = true
	}
	return s, true
}

// window returns the working window of the civil date (y, m, d), which may
// be denormalised (d = 32 is the next month's first), and whether the date is
// a working day. The window is empty (we <= ws) only in pathological zones.
func (s schedule) window(y int, m time.Month, d int) (ws, we time.Time, working bool) {
	civil := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // calendar arithmetic, no zone
	y, m, d = civil.Date()
	working = s.days[civil.Weekday()] && !s.holidays[civilDate{y, m, d}]
	ws = time.Date(y, m, d, 0, s.startMin, 0, 0, s.loc)
	we = time.Date(y, m, d, 0, s.endMin, 0, 0, s.loc)
	return ws, we, working && we.After(ws)
}

// loadLocation is time.LoadLocation without "Local", whose meaning depends on
// the machine. The empty name is UTC, as for time.LoadLocation.
func loadLocation(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errors.New(`"Local" depends on the machine; name an IANA zone such as Asia/Tokyo`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

func weekday(name string) (time.Weekday, bool) {
	switch name {
	case "sun":
		return time.Sunday, true
	case "mon":
		return time.Monday, true
	case "tue":
		return time.Tuesday, true
	case "wed":
		return time.Wednesday, true
	case "thu":
		return time.Thursday, true
	case "fri":
		return time.Friday, true
	case "sat":
		return time.Saturday, true
	}
	return 0, false
}

// parseHours parses "HH:MM-HH:MM" into minutes after midnight. The end may be
// 24:00; the start must be before the end.
func parseHours(s string) (start, end int, err error) {
	bad := fmt.Errorf("%q is not HH:MM-HH:MM with the start before the end, e.g. 09:00-18:00", s)
	from, to, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, bad
	}
	start, ok1 := clockMinutes(from, false)
	end, ok2 := clockMinutes(to, true)
	if !ok1 || !ok2 || start >= end {
		return 0, 0, bad
	}
	return start, end, nil
}

func clockMinutes(s string, allow24 bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	digits := s[:2] + s[3:]
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case m > 59, h > 24, h == 24 && (!allow24 || m != 0):
		return 0, false
	}
	return h*60 + m, true
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
