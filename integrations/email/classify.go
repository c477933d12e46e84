package email

import (
	"strings"
)

// HeaderCase is the header Kanri stamps on its outbound mail with the case
// id. Finding it on inbound mail means Kanri's own mail came back.
const HeaderCase = "X-Kanri-Case"

// Classifier tells automatic mail (auto-replies, bounces, bulk and list
// mail, Kanri's own notifications coming back) from mail a person wrote, so
// that Kanri never answers a machine and never loops.
type Classifier struct {
	// OwnDomain is the domain of the Message-IDs Kanri generates. Inbound
	// mail whose own Message-ID has this domain is Kanri's mail looping back.
	OwnDomain string
	// OwnAddresses are Kanri's own mailbox addresses (intake and sender).
	// Mail from them is Kanri's own.
	OwnAddresses []string
}

// Classify reports whether msg was sent automatically and why. The reason
// names the rule ("auto-submitted: auto-replied", "precedence: bulk",
// "delivery-status report", "own message-id", ...).
//
// Automatic mail can still be recorded on a case (an out-of-office reply
// on a ticket is useful to see), but it must not trigger replies,
// acknowledgements or commands. The rules follow RFC 3834 and what Request
// Tracker, Zammad and Jira Service Management check.
func (c Classifier) Classify(msg *Message) (auto bool, reason string) {
	if msg == nil {
		return true, "no message"
	}
	h := msg.Header

	// Kanri's own mail first: it is the tightest loop.
	if h.Has(HeaderCase) {
		return true, "own mail: " + HeaderCase + " header"
	}
	// Only the Message-IDs Kanri makes (INC-000123.7.<hash>@domain) are
	// its own: colleagues' mail clients use the same domain.
	if c.OwnDomain != "" {
		if _, _, ok := ParseOwnMessageID(msg.MessageID, c.OwnDomain); ok {
			return true, "own message-id"
		}
	}
	for _, own := range c.OwnAddresses {
		if own != "" && strings.EqualFold(strings.TrimSpace(own), msg.From.Address) {
			return true, "own address: " + msg.From.Address
		}
	}

	// Reports: bounces (DSN, RFC 3464) and read receipts (MDN, RFC 8098).
	switch msg.ReportType {
	case "delivery-status":
		return true, "delivery-status report"
	case "disposition-notification":
		return true, "disposition notification"
	case "":
	default:
		return true, "report: " + msg.ReportType
	}

	// The null reverse path: bounces and other mail that must not be
	// answered (RFC 5321 section 4.5.5).
	if rp, ok := returnPath(h); ok && rp == "" {
		return true, "null sender"
	}
	if msg.From.Address == "" {
		return true, "no sender address"
	}

	if v := headerToken(h.Get("Auto-Submitted")); v != "" && v != "no" {
		return true, "auto-submitted: " + v
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("X-Auto-Response-Suppress"))); suppressesAutoReplies(v) {
		return true, "x-auto-response-suppress: " + v
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Reply"} {
		if h.Has(k) {
			return true, strings.ToLower(k) + " header"
		}
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Loop")), "yes") || h.Has("X-Failed-Recipients") {
		return true, "loop or failure header"
	}
	switch v := headerToken(h.Get("Precedence")); v {
	case "bulk", "junk", "list", "auto_reply":
		return true, "precedence: " + v
	}
	if h.Has("List-Id") {
		return true, "list mail: List-Id"
	}
	if h.Has("List-Unsubscribe") {
		return true, "bulk mail: List-Unsubscribe"
	}

	if local := localPart(msg.From.Address); isDaemonLocalPart(local) {
		return true, "automatic sender: " + msg.From.Address
	}
	return false, ""
}

// returnPath reads Return-Path, which the final MTA sets from the envelope
// sender; ok is false when the header is absent.
func returnPath(h Header) (string, bool) {
	if !h.Has("Return-Path") {
		return "", false
	}
	v := strings.TrimSpace(h.Get("Return-Path"))
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	return strings.TrimSpace(v), true
}

// headerToken returns the first token of a structured header value in
// lower case, without parameters or comments ("auto-replied; foo=bar").
func headerToken(v string) string {
	v, _ = stripComments(v)
	v, _, _ = strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// suppressesAutoReplies reads Exchange's X-Auto-Response-Suppress. Exchange
// sets "All" on its own automatic replies, and "OOF"/"AutoReply" on mail
// that must not be answered automatically; a value naming only receipts
// (RN, NRN, DR, NDR) is set by some ordinary clients and does not count.
func suppressesAutoReplies(v string) bool {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch f {
		case "all", "oof", "autoreply":
			return true
		}
	}
	return false
}

func localPart(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return strings.ToLower(addr)
	}
	return strings.ToLower(addr[:at])
}

func isDaemonLocalPart(local string) bool {
	switch local {
	case "mailer-daemon", "mailerdaemon", "postmaster", "noreply", "no-reply", "no_reply",
		"donotreply", "do-not-reply", "do_not_reply", "bounce", "bounces", "auto-reply", "autoreply":
		return true
	}
	return strings.HasPrefix(local, "noreply+") || strings.HasPrefix(local, "no-reply+") ||
		strings.HasPrefix(local, "bounce-") || strings.HasPrefix(local, "bounces+") ||
		strings.HasPrefix(local, "bounces-")
}
