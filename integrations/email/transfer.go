package email

import (
	"encoding/base64"
	"errors"
	"strings"
)

// decodeTransfer undoes a Content-Transfer-Encoding. It is lenient like the
// mail clients people test with: stray characters in base64 are skipped, a
// bad quoted-printable escape is kept literally, and an unknown encoding
// leaves the bytes as they are. The error, if any, is for a warning only;
// the returned bytes are always usable.
func decodeTransfer(cte string, data []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return decodeBase64Lenient(data)
	case "quoted-printable":
		return decodeQuotedPrintable(data), nil
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit":
		return data, nil
	default:
		return data, errors.New("unknown transfer encoding " + cte + "; kept as is")
	}
}

var errBase64Garbage = errors.New("base64 data has trailing or illegal bytes; decoded what was readable")

func decodeBase64Lenient(data []byte) ([]byte, error) {
	clean := make([]byte, 0, len(data))
	var dirty bool
	for i, c := range data {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			// Padding ends the data; anything but whitespace after it is
			// garbage (often a second, concatenated base64 block).
			for _, rest := range data[i:] {
				if rest != '=' && rest != '\r' && rest != '\n' && rest != ' ' && rest != '\t' {
					dirty = true
					break
				}
			}
			return finishBase64(clean, dirty)
		case c == '\r', c == '\n', c == ' ', c == '\t':
		default:
			dirty = true
		}
	}
	return finishBase64(clean, dirty)
}

func finishBase64(clean []byte, dirty bool) ([]byte, error) {
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
		dirty = true
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil || dirty {
		return out[:n], errBase64Garbage
	}
	return out[:n], nil
}

func decodeQuotedPrintable(data []byte) []byte {
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		switch {
		case i+2 < len(data) && data[i+1] == '\r' && data[i+2] == '\n':
			i += 2 // soft line break
		case i+1 < len(data) && data[i+1] == '\n':
			i++
		case i+2 < len(data) && isHex(data[i+1]) && isHex(data[i+2]):
			out = append(out, unhex(data[i+1])<<4|unhex(data[i+2]))
			i += 2
		case i+1 == len(data):
			// "=" at the very end: a soft break without newline.
		default:
			// Soft break followed by trailing whitespace, or a literal "=".
			j := i + 1
			for j < len(data) && (data[j] == ' ' || data[j] == '\t') {
				j++
			}
			if j < len(data) && (data[j] == '\n' || data[j] == '\r') {
				if data[j] == '\r' && j+1 < len(data) && data[j+1] == '\n' {
					j++
				}
				i = j
				continue
			}
			out = append(out, c)
		}
	}
	return out
}
