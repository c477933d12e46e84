package email

import (
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// decodeHeaderText decodes RFC 2047 encoded-words in a header value.
//
// It is more forgiving than mime.WordDecoder, which fails the whole value on
// one bad word: a word it cannot decode is kept as written and reported, an
// unknown charset falls back to detection, and the bytes of adjacent words in
// the same charset are joined before conversion, because Japanese mailers
// split ISO-2022-JP and Shift_JIS text between words in the middle of a
// character. Raw 8-bit or JIS-escaped values (no encoding at all) are
// detected like an undeclared body.
func decodeHeaderText(s string, warn func(string)) string {
	if hasJISEscape([]byte(s)) || !utf8.ValidString(s) {
		name, text := detectCharset([]byte(s))
		warn(fmt.Sprintf("raw non-ASCII header text; decoded as %s", name))
		s = text
	}
	if !strings.Contains(s, "=?") {
		return s
	}

	var (
		out        strings.Builder
		run        []byte // bytes of the current run of encoded-words
		runCharset string
		space      strings.Builder // whitespace after the last token
		afterWord  bool
	)
	flush := func() {
		if runCharset != "" {
			out.WriteString(decodeCharset(run, runCharset, warn))
		}
		run, runCharset = nil, ""
	}
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			space.WriteByte(s[i])
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "=?") {
			if charset, data, n, ok := parseEncodedWord(s[i:]); ok {
				// Whitespace between two encoded-words is not part of the
				// text (RFC 2047 section 6.2).
				if !afterWord {
					flush()
					out.WriteString(space.String())
				}
				space.Reset()
				if runCharset != "" && !strings.EqualFold(runCharset, charset) {
					flush()
				}
				runCharset = charset
				run = append(run, data...)
				afterWord = true
				i += n
				continue
			} else if n > 0 {
				warn(fmt.Sprintf("undecodable encoded-word %q kept as is", truncate(s[i:i+n], 80)))
			}
		}
		flush()
		out.WriteString(space.String())
		space.Reset()
		afterWord = false
		// Copy literal text up to the next whitespace or encoded-word start.
		j := i + 1
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && !strings.HasPrefix(s[j:], "=?") {
			j++
		}
		out.WriteString(s[i:j])
		i = j
	}
	flush()
	out.WriteString(space.String())
	return out.String()
}

// parseEncodedWord reads one "=?charset?enc?text?=" at the start of s and
// returns its charset and decoded bytes and its length. When s starts like
// a word but the word is malformed, n is the length of the bad word (so the
// caller can report it) and ok is false; n is 0 when s is no word at all.
func parseEncodedWord(s string) (charset string, data []byte, n int, ok bool) {
	parts := strings.SplitN(s[2:], "?", 4)
	if len(parts) < 4 || !strings.HasPrefix(parts[3], "=") {
		return "", nil, 0, false
	}
	charset, enc, text := parts[0], parts[1], parts[2]
	n = 2 + len(charset) + 1 + len(enc) + 1 + len(text) + 2
	if charset == "" || strings.ContainsAny(charset, " \t") || strings.ContainsAny(text, " \t") || len(enc) != 1 {
		return "", nil, 0, false
	}
	var err error
	switch enc {
	case "B", "b":
		data, err = decodeBase64Word(text)
	case "Q", "q":
		data, err = decodeQWord(text)
	default:
		return "", nil, n, false
	}
	if err != nil {
		return "", nil, n, false
	}
	return charset, data, n, true
}

func decodeBase64Word(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	// Missing or surplus padding is common.
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodeQWord(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case c == '=':
			return nil, fmt.Errorf("bad escape in Q word")
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// parseAddressList reads an address header leniently. It understands quoted
// names, comments, groups and the null path "<>", decodes encoded-words in
// names (also inside quotes, which many mailers produce), and keeps going
// past garbage instead of failing the list as net/mail does.
func parseAddressList(value string, warn func(string)) []Address {
	if hasJISEscape([]byte(value)) || !utf8.ValidString(value) {
		name, text := detectCharset([]byte(value))
		warn(fmt.Sprintf("raw non-ASCII address header; decoded as %s", name))
		value = text
	}
	var out []Address
	for _, item := range splitAddressList(value) {
		if a, ok := parseMailbox(item, warn); ok {
			out = append(out, a)
		}
	}
	return out
}

// splitAddressList splits at commas (and group colons and semicolons)
// outside quotes, comments and angle brackets.
func splitAddressList(s string) []string {
	var (
		items   []string
		start   int
		inQuote bool
		depth   int // comment nesting
		inAngle bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case depth > 0:
			if c == '\\' {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth++
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case !inAngle && (c == ',' || c == ';'):
			items = append(items, s[start:i])
			start = i + 1
		case !inAngle && c == ':':
			// "Group name:" — drop the group's display name.
			start = i + 1
		}
	}
	items = append(items, s[start:])
	return items
}

// parseMailbox reads one "Name <addr>", "addr (Name)" or "addr".
func parseMailbox(item string, warn func(string)) (Address, bool) {
	item = strings.TrimSpace(item)
	if item == "" {
		return Address{}, false
	}
	if lt := strings.LastIndexByte(item, '<'); lt >= 0 {
		gt := strings.IndexByte(item[lt:], '>')
		var addr string
		if gt < 0 {
			addr = item[lt+1:]
		} else {
			addr = item[lt+1 : lt+gt]
		}
		addr = strings.TrimSpace(addr)
		// Obsolete source route: "<@relay:user@host>".
		if strings.HasPrefix(addr, "@") {
			if c := strings.IndexByte(addr, ':'); c >= 0 {
				addr = addr[c+1:]
			}
		}
		name := phraseText(item[:lt], warn)
		return Address{Name: name, Address: addr}, true
	}
	// No angle brackets: an addr-spec, maybe with a trailing "(Name)".
	addr, comment := stripComments(item)
	addr = strings.Trim(strings.TrimSpace(addr), `"`)
	if !strings.Contains(addr, "@") {
		warn(fmt.Sprintf("ignored address %q without @", truncate(item, 80)))
		return Address{}, false
	}
	return Address{Name: decodeHeaderText(strings.TrimSpace(comment), warn), Address: addr}, true
}

// phraseText turns a display-name phrase into text: quotes and escapes
// removed, comments dropped, encoded-words decoded.
func phraseText(s string, warn func(string)) string {
	s, _ = stripComments(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			continue
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(decodeHeaderText(strings.TrimSpace(b.String()), warn))
}

// stripComments removes parenthesized comments outside quotes and returns
// the rest and the text of the comments.
func stripComments(s string) (rest, comments string) {
	var r, c strings.Builder
	depth, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case depth == 0 && ch == '"':
			inQuote = !inQuote
			r.WriteByte(ch)
		case inQuote:
			r.WriteByte(ch)
		case ch == '(':
			if depth > 0 {
				c.WriteByte(ch)
			}
			depth++
		case ch == ')' && depth > 0:
			depth--
			if depth > 0 {
				c.WriteByte(ch)
			}
		case depth > 0:
			c.WriteByte(ch)
		default:
			r.WriteByte(ch)
		}
	}
	return r.String(), c.String()
}

// parseMsgIDList extracts message ids from In-Reply-To, References or
// Message-ID. Angle-bracketed ids are taken in order; a value without any
// brackets (a common mistake) is split at whitespace and commas.
func parseMsgIDList(value string) []string {
	var ids []string
	rest := value
	for {
		lt := strings.IndexByte(rest, '<')
		if lt < 0 {
			break
		}
		gt := strings.IndexByte(rest[lt:], '>')
		if gt < 0 {
			break
		}
		if id := NormalizeMessageID(rest[lt : lt+gt+1]); id != "" {
			ids = append(ids, id)
		}
		rest = rest[lt+gt+1:]
	}
	if len(ids) > 0 || strings.ContainsAny(value, "<>") {
		return ids
	}
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
		if strings.Contains(f, "@") {
			if id := NormalizeMessageID(f); id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// Layouts seen in the wild that net/mail rejects.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 02 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"2006-01-02 15:04:05 -0700",
	"2006/01/02 15:04:05 -0700",
	time.RFC3339,
}

func parseDate(value string) (time.Time, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, false
	}
	if t, err := mail.ParseDate(value); err == nil {
		return t, true
	}
	collapsed := strings.Join(strings.Fields(value), " ")
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, collapsed); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
