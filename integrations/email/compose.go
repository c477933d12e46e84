package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Outgoing is a notification to one recipient about one case event.
type Outgoing struct {
	From    Address
	To      Address
	Cc      []Address
	ReplyTo []Address
	// EnvelopeFrom is the SMTP reverse path (where bounces go); empty means
	// From.Address.
	EnvelopeFrom string

	// Subject without the case tag; Compose adds "[INC-000123] " unless
	// the subject already carries the tag.
	Subject string
	CaseID  string
	// Seq is the case history sequence number the mail reports. With
	// CaseID and the recipient it makes the Message-ID, so a retried send
	// produces the same id.
	Seq int64
	// Domain is the Message-ID domain; empty means the From domain.
	Domain string

	Text string
	// HTML is optional; when set the mail is multipart/alternative.
	HTML string

	// InReplyTo and References thread the mail under the mail it answers.
	InReplyTo  string
	References []string

	// Date defaults to the current time.
	Date time.Time
	// AutoSubmitted defaults to "auto-generated" (notifications); use
	// "auto-replied" for acknowledgements of inbound mail (RFC 3834).
	AutoSubmitted string
}

// Composed is a ready-to-send message.
type Composed struct {
	// MessageID is the normalized id (no angle brackets).
	MessageID    string
	EnvelopeFrom string
	// Recipients are the envelope recipients: To and Cc.
	Recipients []string
	// Raw is the RFC 5322 message with CRLF line endings.
	Raw []byte
}

// MessageIDFor returns the deterministic Message-ID (without angle brackets)
// of the mail about history entry seq of caseID to recipient:
// "INC-000123.42.1f2e3d4c5b6a7988@domain".
func MessageIDFor(caseID string, seq int64, recipient, domain string) string {
	sum := sha256.Sum256([]byte(caseID + "\x00" + strconv.FormatInt(seq, 10) + "\x00" + strings.ToLower(strings.TrimSpace(recipient))))
	return fmt.Sprintf("%s.%d.%s@%s", caseID, seq, hex.EncodeToString(sum[:8]), strings.ToLower(domain))
}

// ThreadReference is the per-case pseudo Message-ID ("INC-000123@domain")
// that Compose adds to References. It survives relays that rewrite
// Message-ID (Amazon SES does), so replies still find their case.
func ThreadReference(caseID, domain string) string {
	return caseID + "@" + strings.ToLower(domain)
}

// Compose builds the RFC 5322 message for out: UTF-8 bodies in
// quoted-printable or base64 (whichever is shorter for the text), an
// RFC 2047 subject with the case tag, a deterministic Message-ID, and the
// headers that keep other systems from answering it (Auto-Submitted,
// Precedence: bulk, X-Auto-Response-Suppress) and let Kanri recognise it if
// it comes back (X-Kanri-Case).
func Compose(out Outgoing) (*Composed, error) {
	if !ValidCaseID(out.CaseID) {
		return nil, fmt.Errorf("email: compose: invalid case id %q", out.CaseID)
	}
	if out.Seq < 0 {
		return nil, fmt.Errorf("email: compose: negative sequence %d", out.Seq)
	}
	from, err := checkAddress("From", out.From)
	if err != nil {
		return nil, err
	}
	to, err := checkAddress("To", out.To)
	if err != nil {
		return nil, err
	}
	cc, err := checkAddresses("Cc", out.Cc)
	if err != nil {
		return nil, err
	}
	replyTo, err := checkAddresses("Reply-To", out.ReplyTo)
	if err != nil {
		return nil, err
	}
	domain := out.Domain
	if domain == "" {
		domain = out.From.Address[strings.LastIndexByte(out.From.Address, '@')+1:]
	}
	if domain == "" || strings.ContainsAny(domain, " \t\r\n<>@") {
		return nil, fmt.Errorf("email: compose: invalid Message-ID domain %q", domain)
	}
	autoSubmitted := out.AutoSubmitted
	if autoSubmitted == "" {
		autoSubmitted = "auto-generated"
	}
	if autoSubmitted != "auto-generated" && autoSubmitted != "auto-replied" && autoSubmitted != "auto-notified" {
		return nil, fmt.Errorf("email: compose: Auto-Submitted %q is not an RFC 3834 value", autoSubmitted)
	}
	envelopeFrom := out.EnvelopeFrom
	if envelopeFrom == "" {
		envelopeFrom = out.From.Address
	}
	if strings.ContainsAny(envelopeFrom, " \t\r\n<>") {
		return nil, fmt.Errorf("email: compose: invalid envelope sender %q", envelopeFrom)
	}

	id := MessageIDFor(out.CaseID, out.Seq, out.To.Address, domain)
	inReplyTo := NormalizeMessageID(out.InReplyTo)
	if err := checkMsgID(inReplyTo); err != nil {
		return nil, err
	}
	var refs []string
	seen := map[string]bool{}
	addRef := func(r string) error {
		r = NormalizeMessageID(r)
		if r == "" || seen[r] {
			return nil
		}
		if err := checkMsgID(r); err != nil {
			return err
		}
		seen[r] = true
		refs = append(refs, "<"+r+">")
		return nil
	}
	for _, r := range append(append([]string{ThreadReference(out.CaseID, domain)}, out.References...), inReplyTo) {
		if err := addRef(r); err != nil {
			return nil, err
		}
	}

	subject := strings.Join(strings.Fields(out.Subject), " ") // no CR/LF, no runs
	if got, ok := CaseIDFromSubject(subject); !ok || got != out.CaseID {
		subject = strings.TrimSpace(CaseTag(out.CaseID) + " " + subject)
	}
	date := out.Date
	if date.IsZero() {
		date = time.Now()
	}

	// Fields in the order they are written.
	fields := [][2]string{
		{"Date", date.Format(time.RFC1123Z)},
		{"From", from},
		{"To", to},
	}
	if cc != "" {
		fields = append(fields, [2]string{"Cc", cc})
	}
	if replyTo != "" {
		fields = append(fields, [2]string{"Reply-To", replyTo})
	}
	fields = append(fields,
		[2]string{"Subject", encodeSubject(subject)},
		[2]string{"Message-ID", "<" + id + ">"},
	)
	if inReplyTo != "" {
		fields = append(fields, [2]string{"In-Reply-To", "<" + inReplyTo + ">"})
	}
	fields = append(fields,
		[2]string{"References", strings.Join(refs, " ")},
		[2]string{"Auto-Submitted", autoSubmitted},
		[2]string{"Precedence", "bulk"},
		[2]string{"X-Auto-Response-Suppress", "All"},
		[2]string{HeaderCase, out.CaseID},
		[2]string{"MIME-Version", "1.0"},
	)

	boundary := "kanri-" + strings.ReplaceAll(strings.ReplaceAll(id, "@", "-"), ".", "-")
	var buf bytes.Buffer
	if out.HTML == "" {
		ct, cte, body := textBody("text/plain", out.Text)
		fields = append(fields, [2]string{"Content-Type", ct}, [2]string{"Content-Transfer-Encoding", cte})
		w, err := gomessage.CreateWriter(&buf, headerOf(fields))
		if err != nil {
			return nil, fmt.Errorf("email: compose: %w", err)
		}
		if err := writeAndClose(w, body); err != nil {
			return nil, err
		}
	} else {
		fields = append(fields, [2]string{"Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary})})
		w, err := gomessage.CreateWriter(&buf, headerOf(fields))
		if err != nil {
			return nil, fmt.Errorf("email: compose: %w", err)
		}
		for _, part := range []struct{ mediaType, text string }{{"text/plain", out.Text}, {"text/html", out.HTML}} {
			ct, cte, body := textBody(part.mediaType, part.text)
			pw, err := w.CreatePart(headerOf([][2]string{{"Content-Type", ct}, {"Content-Transfer-Encoding", cte}}))
			if err != nil {
				return nil, fmt.Errorf("email: compose: %w", err)
			}
			if err := writeAndClose(pw, body); err != nil {
				return nil, err
			}
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("email: compose: %w", err)
		}
	}

	// The base64 writer leaves the last line open.
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
		buf.WriteString("\r\n")
	}

	rcpts := []string{out.To.Address}
	for _, a := range out.Cc {
		rcpts = append(rcpts, a.Address)
	}
	return &Composed{MessageID: id, EnvelopeFrom: envelopeFrom, Recipients: rcpts, Raw: buf.Bytes()}, nil
}

func writeAndClose(w *gomessage.Writer, body []byte) error {
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("email: compose: write body: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: compose: close body: %w", err)
	}
	return nil
}

// headerOf builds a go-message header that writes fields in order (its Add
// inserts at the top).
func headerOf(fields [][2]string) gomessage.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i][0], fields[i][1])
	}
	return gomessage.Header{Header: h}
}

// textBody picks the transfer encoding for a UTF-8 text: 7bit for short-lined
// ASCII, else quoted-printable for mostly-Latin text and base64 for text
// that is mostly multi-byte (Japanese grows threefold in quoted-printable).
func textBody(mediaType, text string) (contentType, cte string, body []byte) {
	text = strings.ToValidUTF8(normalizeNewlines(text), "\uFFFD")
	contentType = mime.FormatMediaType(mediaType, map[string]string{"charset": "utf-8"})
	crlf := []byte(strings.ReplaceAll(text, "\n", "\r\n"))
	nonASCII, longLine, lineLen := 0, false, 0
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			nonASCII++
		}
		if text[i] == '\n' {
			lineLen = 0
		} else if lineLen++; lineLen > 76 {
			longLine = true
		}
	}
	switch {
	case nonASCII == 0 && !longLine:
		return contentType, "7bit", crlf
	case nonASCII*3 > len(text):
		return contentType, "base64", crlf
	default:
		// The quoted-printable writer turns "\n" into CRLF itself.
		return contentType, "quoted-printable", []byte(text)
	}
}

func encodeSubject(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.BEncoding.Encode("utf-8", s)
		}
	}
	return s
}

func checkAddress(field string, a Address) (string, error) {
	if strings.ContainsAny(a.Address, "\r\n") || strings.ContainsAny(a.Name, "\r\n") {
		return "", fmt.Errorf("email: compose: %s contains a line break", field)
	}
	if p, err := mail.ParseAddress(a.Address); err != nil || p.Address != a.Address || !utf8.ValidString(a.Name) {
		return "", fmt.Errorf("email: compose: invalid %s address %q", field, a.Address)
	}
	return a.String(), nil
}

func checkAddresses(field string, as []Address) (string, error) {
	var out []string
	for _, a := range as {
		s, err := checkAddress(field, a)
		if err != nil {
			return "", err
		}
		out = append(out, s)
	}
	return strings.Join(out, ", "), nil
}

func checkMsgID(id string) error {
	if strings.ContainsAny(id, " \t\r\n<>\"") {
		return fmt.Errorf("email: compose: invalid message id %q", id)
	}
	return nil
}
