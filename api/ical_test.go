package api

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// The feed is RFC 5545: CRLF lines of at most 75 octets, folded without
// splitting a UTF-8 character, TEXT values escaped, one event per change
// with a stable UID, and the blackouts as events of their own.
func TestICalendar(t *testing.T) {
	start := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	items := []cases.ScheduleItem{{
		ScheduledChange: store.ScheduledChange{ChangeID: "CHG-000042", Title: "メールゲートウェイの更新; phase 1, part 2 " + strings.Repeat("長い件名", 10),
			Type: "normal", Status: "scheduled", Start: start, End: start.Add(time.Hour), CIs: []string{"mail-app"}},
		Conflicts: []store.Conflict{{ChangeID: "CHG-000043", Reason: "same CI"}},
	}}
	blackouts := []policy.Blackout{{Name: "year-end", Start: start.Add(24 * time.Hour), End: start.Add(48 * time.Hour)}}
	out := string(iCalendar(items, blackouts, start))

	if !strings.HasPrefix(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") || !strings.HasSuffix(out, "END:VCALENDAR\r\n") {
		t.Fatalf("not a calendar:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
	for _, l := range lines {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("folding split a character: %q", l)
		}
		if strings.Contains(l, "\n") {
			t.Errorf("bare LF in %q", l)
		}
	}
	unfolded := strings.ReplaceAll(out, "\r\n ", "")
	for _, want := range []string{
		"UID:CHG-000042@kanri\r\n",
		"DTSTART:20261201T220000Z\r\n",
		"DTEND:20261201T230000Z\r\n",
		`SUMMARY:CHG-000042 メールゲートウェイの更新\; phase 1\, part 2 ` + strings.Repeat("長い件名", 10) + "\r\n",
		`Conflicts with CHG-000043: same CI`,
		"STATUS:TENTATIVE\r\n",
		"SUMMARY:Change blackout: year-end\r\n",
		"DTSTART:20261202T220000Z\r\n",
	} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("feed lacks %q:\n%s", want, unfolded)
		}
	}
	if n := strings.Count(out, "BEGIN:VEVENT"); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}
