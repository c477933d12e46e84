package email

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
)

// Japanese labels that the general indexes do not know or map wrongly.
// Microsoft's variants (iso-2022-jp-ms, cp932, eucjp-ms) are decoded by the
// WHATWG tables in x/text, which already include the NEC and IBM extension
// rows, so ① and № come out right.
var japaneseCharsets = map[string]encoding.Encoding{
	"iso-2022-jp":         japanese.ISO2022JP,
	"iso-2022-jp-ms":      japanese.ISO2022JP,
	"iso-2022-jp-1":       japanese.ISO2022JP,
	"iso-2022-jp-2":       japanese.ISO2022JP,
	"iso-2022-jp-3":       japanese.ISO2022JP,
	"iso-2022-jp-2004":    japanese.ISO2022JP,
	"csiso2022jp":         japanese.ISO2022JP,
	"cp50220":             japanese.ISO2022JP,
	"cp50221":             japanese.ISO2022JP,
	"cp50222":             japanese.ISO2022JP,
	"jis":                 japanese.ISO2022JP,
	"shift_jis":           japanese.ShiftJIS,
	"shift-jis":           japanese.ShiftJIS,
	"shift_jis-2004":      japanese.ShiftJIS,
	"sjis":                japanese.ShiftJIS,
	"x-sjis":              japanese.ShiftJIS,
	"ms_kanji":            japanese.ShiftJIS,
	"csshiftjis":          japanese.ShiftJIS,
	"cp932":               japanese.ShiftJIS,
	"ms932":               japanese.ShiftJIS,
	"x-ms-cp932":          japanese.ShiftJIS,
	"windows-31j":         japanese.ShiftJIS,
	"cswindows31j":        japanese.ShiftJIS,
	"euc-jp":              japanese.EUCJP,
	"x-euc-jp":            japanese.EUCJP,
	"eucjp":               japanese.EUCJP,
	"eucjp-ms":            japanese.EUCJP,
	"euc-jp-ms":           japanese.EUCJP,
	"eucjp-open":          japanese.EUCJP,
	"cseucpkdfmtjapanese": japanese.EUCJP,
}

// normalizeCharset lower-cases a charset label and drops quotes, spaces and
// an RFC 2231 language suffix ("utf-8*ja").
func normalizeCharset(label string) string {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	return label
}

func isUTF8Label(label string) bool {
	switch label {
	case "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8", "x-utf_8j":
		return true
	}
	return false
}

func isASCIILabel(label string) bool {
	switch label {
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "csascii":
		return true
	}
	return false
}

// lookupCharset finds the decoder for a normalized label. UTF-8 and ASCII are
// handled by the callers and not looked up here.
func lookupCharset(label string) (encoding.Encoding, bool) {
	if enc, ok := japaneseCharsets[label]; ok {
		return enc, true
	}
	if enc, err := htmlindex.Get(label); err == nil && enc != nil && enc != encoding.Replacement {
		return enc, true
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA} {
		if enc, err := idx.Encoding(label); err == nil && enc != nil && enc != encoding.Replacement {
			return enc, true
		}
	}
	return nil, false
}

// decodeCharset converts data labelled with charset to UTF-8. It never
// fails: an unknown, missing or wrong label falls back to detection, and
// each guess is reported through warn.
func decodeCharset(data []byte, charset string, warn func(string)) string {
	label := normalizeCharset(charset)
	switch {
	case label == "":
		name, s := detectCharset(data)
		if name != "utf-8" && name != "us-ascii" {
			warn(fmt.Sprintf("no charset declared; decoded as %s", name))
		}
		return s
	case isUTF8Label(label):
		if utf8.Valid(data) && !hasJISEscape(data) {
			return string(data)
		}
		name, s := detectCharset(data)
		warn(fmt.Sprintf("declared %s but content is not valid UTF-8; decoded as %s", label, name))
		return s
	case isASCIILabel(label):
		if isASCII(data) && !hasJISEscape(data) {
			return string(data)
		}
		name, s := detectCharset(data)
		warn(fmt.Sprintf("declared %s but content has non-ASCII data; decoded as %s", label, name))
		return s
	}
	enc, ok := lookupCharset(label)
	if !ok {
		name, s := detectCharset(data)
		warn(fmt.Sprintf("unknown charset %q; decoded as %s", label, name))
		return s
	}
	// A label of ISO-2022-JP on 8-bit data is a mislabel (seen from some
	// webmail); the escape-free bytes are Shift_JIS, EUC-JP or UTF-8.
	if enc == japanese.ISO2022JP && !hasJISEscape(data) && !isASCII(data) {
		name, s := detectCharset(data)
		warn(fmt.Sprintf("declared %s but content has no JIS escapes; decoded as %s", label, name))
		return s
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		name, s := detectCharset(data)
		warn(fmt.Sprintf("charset %s: %v; decoded as %s", label, err, name))
		return s
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// detectCharset decodes data whose charset is unknown: ISO-2022-JP when it
// carries JIS escape sequences, UTF-8 when valid, else the better fitting of
// Shift_JIS and EUC-JP, else Windows-1252 so that no byte is lost silently.
func detectCharset(data []byte) (name, text string) {
	if hasJISEscape(data) {
		if out, err := japanese.ISO2022JP.NewDecoder().Bytes(data); err == nil {
			return "iso-2022-jp", strings.ToValidUTF8(string(out), "\uFFFD")
		}
	}
	if utf8.Valid(data) {
		if isASCII(data) {
			return "us-ascii", string(data)
		}
		return "utf-8", string(data)
	}
	sjisOK, sjisScore := scoreShiftJIS(data)
	eucOK, eucScore := scoreEUCJP(data)
	var enc encoding.Encoding
	switch {
	case sjisOK && eucOK:
		if eucScore > sjisScore {
			name, enc = "euc-jp", japanese.EUCJP
		} else {
			name, enc = "shift_jis", japanese.ShiftJIS
		}
	case sjisOK:
		name, enc = "shift_jis", japanese.ShiftJIS
	case eucOK:
		name, enc = "euc-jp", japanese.EUCJP
	default:
		name, enc = "windows-1252", charmap.Windows1252
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return "utf-8", strings.ToValidUTF8(string(data), "\uFFFD")
	}
	return name, strings.ToValidUTF8(string(out), "\uFFFD")
}

var jisEscapes = [][]byte{
	[]byte("\x1b$B"),  // JIS X 0208-1983
	[]byte("\x1b$@"),  // JIS X 0208-1978
	[]byte("\x1b(J"),  // JIS X 0201 Roman
	[]byte("\x1b(I"),  // JIS X 0201 Katakana
	[]byte("\x1b$(D"), // JIS X 0212
}

func hasJISEscape(data []byte) bool {
	if bytes.IndexByte(data, 0x1b) < 0 {
		return false
	}
	for _, esc := range jisEscapes {
		if bytes.Contains(data, esc) {
			return true
		}
	}
	return false
}

func isASCII(data []byte) bool {
	for _, b := range data {
		if b >= 0x80 {
			return false
		}
	}
	return true
}

// scoreShiftJIS reports whether data is well-formed Shift_JIS (CP932) and
// counts the characters typical of Japanese prose: hiragana, katakana and
// the level-1 kanji block. Half-width katakana, rare in real mail, counts
// against it, which is what tells EUC-JP bytes apart.
func scoreShiftJIS(data []byte) (ok bool, score int) {
	for i := 0; i < len(data); i++ {
		b := data[i]
		switch {
		case b < 0x80:
		case b >= 0xa1 && b <= 0xdf:
			score--
		case (b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc):
			if i+1 >= len(data) {
				return false, score
			}
			t := data[i+1]
			if t < 0x40 || t == 0x7f || t > 0xfc {
				return false, score
			}
			if b == 0x82 && t >= 0x9f && t <= 0xf1 || // hiragana
				b == 0x83 && t >= 0x40 && t <= 0x96 || // katakana
				b >= 0x88 && b <= 0x9f || // level-1 and level-2 kanji
				b == 0x81 && t >= 0x40 && t <= 0x5b { // punctuation 、。
				score += 2
			}
			i++
		default:
			return false, score
		}
	}
	return true, score
}

// scoreEUCJP is scoreShiftJIS for EUC-JP.
func scoreEUCJP(data []byte) (ok bool, score int) {
	for i := 0; i < len(data); i++ {
		b := data[i]
		switch {
		case b < 0x80:
		case b == 0x8e: // half-width katakana
			if i+1 >= len(data) || data[i+1] < 0xa1 || data[i+1] > 0xdf {
				return false, score
			}
			score--
			i++
		case b == 0x8f: // JIS X 0212
			if i+2 >= len(data) || data[i+1] < 0xa1 || data[i+2] < 0xa1 || data[i+1] == 0xff || data[i+2] == 0xff {
				return false, score
			}
			i += 2
		case b >= 0xa1 && b <= 0xfe:
			if i+1 >= len(data) {
				return false, score
			}
			t := data[i+1]
			if t < 0xa1 || t > 0xfe {
				return false, score
			}
			if b == 0xa4 || b == 0xa5 || (b >= 0xb0 && b <= 0xf4) || (b == 0xa1 && t <= 0xbc) {
				score += 2
			}
			i++
		default:
			return false, score
		}
	}
	return true, score
}
