package email

import (
	"regexp"
	"strings"
)

// StripQuoted returns the new part of a reply: text without the quoted
// message and without the signature. It cuts at the first reply header it
// recognises —
//
//   - "On <date>, <name> wrote:" (also wrapped over two lines, as Gmail
//     does), and other languages' "… wrote:" lines followed by a quote;
//   - Japanese attributions: "山田さんは書きました:", "2024年1月15日(月) 10:00
//     山田 <yamada@example.jp>:" (Gmail), "… wrote:";
//   - Outlook's "-----Original Message-----" / "-----元のメッセージ-----"
//     separators and its "From: / Sent: / To: / Subject:" blocks (also
//     "差出人: / 送信日時: / 宛先: / 件名:");
//
// then drops the remaining ">" lines (interleaved quotes), the signature
// after a "-- " line, and trailing "Sent from my phone" lines. The input is
// not changed; callers keep it as the full text.
func StripQuoted(text string) string {
	lines := strings.Split(normalizeNewlines(text), "\n")
	if cut := replyHeaderLine(lines); cut >= 0 {
		lines = lines[:cut]
	}

	kept := make([]string, 0, len(lines))
	for _, l := range lines {
		if isQuotedLine(l) {
			continue
		}
		if strings.TrimRight(l, " \t") == "--" {
			break // signature separator ("-- " by RFC 3676, often typed "--")
		}
		kept = append(kept, l)
	}
	// Trailing mobile footers and blank lines.
	for len(kept) > 0 {
		last := strings.TrimSpace(kept[len(kept)-1])
		if last == "" || mobileFooterRe.MatchString(last) {
			kept = kept[:len(kept)-1]
			continue
		}
		break
	}
	for len(kept) > 0 && strings.TrimSpace(kept[0]) == "" {
		kept = kept[1:]
	}
	for i, l := range kept {
		kept[i] = strings.TrimRight(l, " \t")
	}
	return blankLinesRe.ReplaceAllString(strings.Join(kept, "\n"), "\n\n")
}

var (
	// "-----Original Message-----" and friends.
	originalMessageRe = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|forwarded message|元のメッセージ|転送されたメッセージ|オリジナルメッセージ|ursprüngliche nachricht|message d'origine)\s*-{2,}\s*$`)
	// A line that ends an attribution: "... wrote:" in several languages.
	wroteRe = regexp.MustCompile(`(?i)(\bwrote|書きました|書き込みました|\bschrieb|a écrit|escribió|ha scritto|написал\S*)\s*[:：]?\s*$`)
	// Attribution starts: "On ...", "Am ...", "Le ...", "El ...".
	onRe = regexp.MustCompile(`(?i)^\s*(on|am|le|el|il)\s`)
	// Japanese attributions that need no "wrote".
	japaneseAttributionRe = regexp.MustCompile(`^\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}/\d{1,2}/\d{1,2}).*[:：]\s*$`)
	sanRe                 = regexp.MustCompile(`(さん|様|氏)(は|が)`)
	dateOrAddressRe       = regexp.MustCompile(`\d{1,4}[/\-年]\d{1,2}|\d{1,2}:\d{2}|@`)
	// Outlook header blocks.
	outlookFromRe   = regexp.MustCompile(`(?i)^\s*\*?(from|差出人|送信者|von|de)\s*\*?\s*[:：]`)
	outlookFieldRe  = regexp.MustCompile(`(?i)^\s*\*?(sent|date|to|cc|subject|送信日時|送信日|日付|宛先|件名|gesendet|an|betreff|envoyé|à|objet)\s*\*?\s*[:：]`)
	separatorLineRe = regexp.MustCompile(`^\s*(_{5,}|-{5,}|─{5,}|━{5,})\s*$`)
	mobileFooterRe  = regexp.MustCompile(`(?i)^(sent from my \S+.*|get outlook for \S+.*|sent from mail for windows.*|(iphone|ipad|android|ドコモ|au|softbank)\S*から送信.*)$`)
)

func isQuotedLine(l string) bool {
	t := strings.TrimLeft(l, " \t")
	return strings.HasPrefix(t, ">") || strings.HasPrefix(t, "＞")
}

// replyHeaderLine returns the index of the first line that starts the quoted
// part, or -1.
func replyHeaderLine(lines []string) int {
	for i, l := range lines {
		if originalMessageRe.MatchString(l) {
			return i
		}
		if isAttribution(lines, i) {
			return i
		}
		if outlookFromRe.MatchString(l) && outlookBlock(lines, i) {
			if j := prevNonBlank(lines, i); j >= 0 && separatorLineRe.MatchString(lines[j]) {
				return j
			}
			return i
		}
	}
	return -1
}

func isAttribution(lines []string, i int) bool {
	l := strings.TrimSpace(lines[i])
	if l == "" || isQuotedLine(l) {
		return false
	}
	next := nextNonBlank(lines, i)
	quoteFollows := next >= 0 && isQuotedLine(lines[next])

	if wroteRe.MatchString(l) {
		// "On Mon, ... wrote:" is unambiguous; a bare "... wrote:" counts
		// when it looks like an attribution or a quote follows.
		if onRe.MatchString(l) || sanRe.MatchString(l) || dateOrAddressRe.MatchString(l) || quoteFollows {
			return true
		}
		return false
	}
	// Gmail wraps long attributions: "On Mon, 15 Jan 2024 at 10:00, Taro
	// Yamada <taro@example.com>" / "wrote:".
	if onRe.MatchString(l) && i+1 < len(lines) && len(l) < 200 {
		if nl := strings.TrimSpace(lines[i+1]); nl != "" && wroteRe.MatchString(nl) && len(nl) < 120 {
			return true
		}
	}
	if japaneseAttributionRe.MatchString(l) && quoteFollows {
		return true
	}
	return false
}

// outlookBlock reports whether a "From:" line at i is followed closely by
// other header fields, as in a forwarded or replied-to Outlook message.
func outlookBlock(lines []string, i int) bool {
	fields := 0
	for j := i + 1; j < len(lines) && j <= i+6; j++ {
		l := strings.TrimSpace(lines[j])
		if l == "" {
			continue
		}
		if outlookFieldRe.MatchString(l) {
			fields++
		}
	}
	return fields >= 2
}

func nextNonBlank(lines []string, i int) int {
	for j := i + 1; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}

func prevNonBlank(lines []string, i int) int {
	for j := i - 1; j >= 0; j-- {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}
