package email

import (
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/width"
)

// CasePrefixes are the case kinds whose ids Kanri puts in subject tags.
var CasePrefixes = []string{"INC", "REQ", "PRB", "CHG", "REL", "SUP", "SRV", "CAPA", "CMP", "AUD"}

var (
	caseIDRe  = regexp.MustCompile(`^(INC|REQ|PRB|CHG|REL|SUP|SRV|CAPA|CMP|AUD)-\d{6}$`)
	caseTagRe = regexp.MustCompile(`(?i)\[\s*(INC|REQ|PRB|CHG|REL|SUP|SRV|CAPA|CMP|AUD)\s*-\s*(\d{6})\s*\]`)
)

// ValidCaseID reports whether id is a case id such as "INC-000123".
func ValidCaseID(id string) bool { return caseIDRe.MatchString(id) }

// CaseTag is the subject tag for a case: "[INC-000123]".
func CaseTag(caseID string) string { return "[" + caseID + "]" }

// CaseIDFromSubject finds the first case tag in a subject, such as
// "Re: [INC-000123] Printer on fire", and returns the case id in canonical
// form. Full-width forms typed by Japanese input methods ("［ＩＮＣ－０００１２３］")
// and lower case are accepted.
func CaseIDFromSubject(subject string) (string, bool) {
	m := caseTagRe.FindStringSubmatch(width.Fold.String(subject))
	if m == nil {
		return "", false
	}
	return strings.ToUpper(m[1]) + "-" + m[2], true
}

// ThreadCandidates returns the Message-IDs a reply may answer, best first:
// the In-Reply-To ids, then the References from the newest to the oldest.
// Ids are normalized and unique; the message's own id is left out.
func ThreadCandidates(msg *Message) []string {
	if msg == nil {
		return nil
	}
	seen := map[string]bool{msg.MessageID: true, "": true}
	var out []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range parseMsgIDList(strings.Join(msg.Header.Values("In-Reply-To"), " ")) {
		add(id)
	}
	add(msg.InReplyTo)
	for i := len(msg.References) - 1; i >= 0; i-- {
		add(msg.References[i])
	}
	return out
}

// ParseOwnMessageID reads a Message-ID that Kanri generated for domain (see
// MessageIDFor and ThreadReference) and returns its case id and history
// sequence (0 for the per-case thread reference). It lets a reply be
// threaded even when the stored id cannot be found.
func ParseOwnMessageID(id, domain string) (caseID string, seq int64, ok bool) {
	id = NormalizeMessageID(id)
	at := strings.LastIndexByte(id, '@')
	if at < 0 || !strings.EqualFold(id[at+1:], domain) {
		return "", 0, false
	}
	parts := strings.Split(id[:at], ".")
	if !ValidCaseID(parts[0]) {
		return "", 0, false
	}
	switch len(parts) {
	case 1:
		return parts[0], 0, true
	case 3:
		n, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || n < 0 {
			return "", 0, false
		}
		return parts[0], n, true
	}
	return "", 0, false
}

// CaseIDFromReferences returns the case of the first thread candidate that
// is one of Kanri's own Message-IDs for domain.
func CaseIDFromReferences(msg *Message, domain string) (string, bool) {
	for _, id := range ThreadCandidates(msg) {
		if caseID, _, ok := ParseOwnMessageID(id, domain); ok {
			return caseID, true
		}
	}
	return "", false
}
