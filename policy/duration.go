package policy

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration ("90m", "4h")
// with one extra unit, "d" for 24 hours, which may lead the value ("3d",
// "1d12h"). A day here is always 24 hours of the clock the duration is
// counted on: with a business calendar, "1d" is 24 working hours, not one
// working day.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a scalar such as 90m, 4h or 3d", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler, so a configuration written back out
// reads in again unchanged.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration parses a Go duration that may start with a number of days:
// "3d", "1d12h", "1.5d", "90m", "0". Days come first; "12h1d" is an error,
// as is a number without a unit.
func ParseDuration(s string) (time.Duration, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid duration %q: %s; use a Go duration, with d for 24h leading it if needed (90m, 4h, 3d, 1d12h)", s, why)
	}
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, bad("empty")
	}
	neg := false
	if v[0] == '-' || v[0] == '+' {
		neg = v[0] == '-'
		v = v[1:]
	}
	i := strings.IndexByte(v, 'd')
	if i < 0 {
		if v == "" || !startsNumeric(v) {
			return 0, bad("no number")
		}
		out, err := time.ParseDuration(v)
		if err != nil {
			return 0, bad(reason(err))
		}
		if neg {
			out = -out
		}
		return out, nil
	}
	num, rest := v[:i], v[i+1:]
	if num == "" || strings.Trim(num, "0123456789.") != "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, bad("days must be a number before d")
	}
	// Parsing the day count as hours reuses the exact fractional arithmetic
	// of time.ParseDuration ("1.5h" is exactly 90 minutes); times 24 is a day.
	days, err := time.ParseDuration(num + "h")
	if err != nil {
		return 0, bad(reason(err))
	}
	const maxDuration = time.Duration(1<<63 - 1)
	if days > maxDuration/24 {
		return 0, bad("out of range")
	}
	out := days * 24
	if rest != "" {
		if !startsNumeric(rest) {
			return 0, bad("expected a number after d")
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad(reason(err))
		}
		if r > maxDuration-out {
			return 0, bad("out of range")
		}
		out += r
	}
	if neg {
		out = -out
	}
	return out, nil
}

func startsNumeric(s string) bool {
	return s != "" && (s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))
}

// reason shortens a time.ParseDuration error for the message around it.
func reason(err error) string {
	if strings.Contains(err.Error(), "missing unit") {
		return "a number needs a unit"
	}
	return "not a Go duration"
}
