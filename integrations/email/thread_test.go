package email

import (
	"slices"
	"testing"
)

func TestCaseIDFromSubject(t *testing.T) {
	cases := map[string]string{
		"[INC-000123] Printer on fire":          "INC-000123",
		"Re: RE: Fwd: [CHG-004200] Patch night": "CHG-004200",
		"AW: [capa-000001] corrective":          "CAPA-000001",
		"Re: [ SUP-000002 ] supplier":           "SUP-000002",
		"Re:［ＩＮＣ－０００１２３］プリンター":                  "INC-000123",
		"[REQ-000001] and [PRB-000002]":         "REQ-000001",
		"[AUD-000009][SRV-000001]":              "AUD-000009",
		"[REL-000010] [CMP-000011]":             "REL-000010",
		"[INC-00123] five digits":               "",
		"[INC-0001234] seven digits":            "",
		"[FOO-000123] unknown kind":             "",
		"INC-000123 without brackets":           "",
		"":                                      "",
	}
	for subject, want := range cases {
		got, ok := CaseIDFromSubject(subject)
		if got != want || ok != (want != "") {
			t.Errorf("CaseIDFromSubject(%q) = %q %v, want %q", subject, got, ok, want)
		}
	}
	for _, p := range CasePrefixes {
		id := p + "-000001"
		if got, ok := CaseIDFromSubject("Re: " + CaseTag(id)); !ok || got != id || !ValidCaseID(id) {
			t.Errorf("prefix %s: got %q %v", p, got, ok)
		}
	}
}

func TestThreadCandidates(t *testing.T) {
	raw := crlf("From: a@example.jp\nMessage-ID: <self@example.jp>\nIn-Reply-To: <parent@kanri.example> <other@x>\nReferences: <root@kanri.example> <middle@x> <parent@kanri.example> <self@example.jp>\n\nbody")
	msg := mustParse(t, raw, Limits{})
	want := []string{"parent@kanri.example", "other@x", "middle@x", "root@kanri.example"}
	if got := ThreadCandidates(msg); !slices.Equal(got, want) {
		t.Errorf("ThreadCandidates = %q, want %q", got, want)
	}
	if ThreadCandidates(nil) != nil {
		t.Error("nil message has candidates")
	}
	// Mailers that forget the brackets.
	msg = mustParse(t, crlf("From: a@example.jp\nIn-Reply-To: parent@kanri.example\n\nbody"), Limits{})
	if got := ThreadCandidates(msg); !slices.Equal(got, []string{"parent@kanri.example"}) {
		t.Errorf("bracketless: %q", got)
	}
}

func TestOwnMessageIDs(t *testing.T) {
	id := MessageIDFor("INC-000123", 42, "Taro@Example.jp", "Kanri.Example")
	if id != MessageIDFor("INC-000123", 42, "taro@example.jp", "kanri.example") {
		t.Error("Message-ID depends on the case of the recipient or domain")
	}
	if id == MessageIDFor("INC-000123", 42, "hanako@example.jp", "kanri.example") || id == MessageIDFor("INC-000123", 43, "taro@example.jp", "kanri.example") {
		t.Error("Message-ID does not depend on recipient and sequence")
	}
	caseID, seq, ok := ParseOwnMessageID("<"+id+">", "kanri.example")
	if !ok || caseID != "INC-000123" || seq != 42 {
		t.Errorf("ParseOwnMessageID(%q) = %q %d %v", id, caseID, seq, ok)
	}
	if caseID, seq, ok := ParseOwnMessageID(ThreadReference("CHG-000007", "kanri.example"), "KANRI.example"); !ok || caseID != "CHG-000007" || seq != 0 {
		t.Errorf("thread reference: %q %d %v", caseID, seq, ok)
	}
	for _, bad := range []string{id + "x", "INC-000123.42.ab@other.example", "hello@kanri.example", "INC-000123.x.ab@kanri.example", "INC-000123.1@kanri.example"} {
		if _, _, ok := ParseOwnMessageID(bad, "kanri.example"); ok {
			t.Errorf("ParseOwnMessageID(%q) accepted", bad)
		}
	}

	// A reply whose In-Reply-To was rewritten still finds the case through
	// the thread reference in References.
	raw := crlf("From: a@example.jp\nIn-Reply-To: <rewritten-by-ses@amazonses.com>\nReferences: <INC-000123@kanri.example> <rewritten-by-ses@amazonses.com>\n\nbody")
	if caseID, ok := CaseIDFromReferences(mustParse(t, raw, Limits{}), "kanri.example"); !ok || caseID != "INC-000123" {
		t.Errorf("CaseIDFromReferences = %q %v", caseID, ok)
	}
	if _, ok := CaseIDFromReferences(mustParse(t, crlf("From: a@example.jp\n\nx"), Limits{}), "kanri.example"); ok {
		t.Error("found a case in a mail without references")
	}
}
