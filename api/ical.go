package api

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
)

// iCalendar renders the change schedule as an RFC 5545 feed, so the
// schedule can be subscribed to from any calendar (spec §2.13: the change
// schedule is communicated). Each change is one event whose UID is its id,
// so a calendar updates it in place when it moves.
func iCalendar(items []cases.ScheduleItem, blackouts []policy.Blackout, now time.Time) []byte {
	var b bytes.Buffer
	line := func(s string) { b.WriteString(fold(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Kanri//Change schedule//EN")
	line("CALSCALE:GREGORIAN")
	line("X-WR-CALNAME:Kanri change schedule")
	for _, it := range items {
		line("BEGIN:VEVENT")
		line("UID:" + it.ChangeID + "@kanri")
		line("DTSTAMP:" + icalTime(now))
		line("DTSTART:" + icalTime(it.Start))
		line("DTEND:" + icalTime(it.End))
		line("SUMMARY:" + icalText(it.ChangeID+" "+it.Title))
		desc := fmt.Sprintf("Type: %s\nStatus: %s", it.Type, it.Status)
		if len(it.CIs) > 0 {
			desc += "\nCIs: " + strings.Join(it.CIs, ", ")
		}
		if len(it.Services) > 0 {
			desc += "\nServices: " + strings.Join(it.Services, ", ")
		}
		for _, c := range it.Conflicts {
			desc += fmt.Sprintf("\nConflicts with %s: %s", c.ChangeID, c.Reason)
		}
		line("DESCRIPTION:" + icalText(desc))
		line("CATEGORIES:" + icalText(it.Type))
		status := "CONFIRMED"
		if it.Status == "scheduled" {
			status = "TENTATIVE"
		}
		line("STATUS:" + status)
		line("END:VEVENT")
	}
	for _, bo := range blackouts {
		line("BEGIN:VEVENT")
		line("UID:blackout-" + icalText(bo.Name) + "-" + icalTime(bo.Start) + "@kanri")
		line("DTSTAMP:" + icalTime(now))
		line("DTSTART:" + icalTime(bo.Start))
		line("DTEND:" + icalTime(bo.End))
		line("SUMMARY:" + icalText("Change blackout: "+bo.Name))
		line("TRANSP:OPAQUE")
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return b.Bytes()
}

func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icalText escapes a TEXT value (RFC 5545 §3.3.11).
func icalText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// fold ends a content line with CRLF, folding it into lines of at most 75
// octets without splitting a UTF-8 character (RFC 5545 §3.1).
func fold(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		w := utf8.RuneLen(r)
		if n+w > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += w
	}
	b.WriteString("\r\n")
	return b.String()
}
