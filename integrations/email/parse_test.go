package email

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// crlf turns a readable fixture into wire format.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

func mustParse(t *testing.T, raw []byte, limits Limits) *Message {
	t.Helper()
	msg, err := Parse(raw, limits)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return msg
}

func TestParsePlainTextAndEnvelope(t *testing.T) {
	raw := crlf(`Return-Path: <taro@example.jp>
Message-ID: <abc.123@MAIL.Example.JP>
In-Reply-To: <INC-000123.7.0011223344556677@kanri.example>
References: <root@kanri.example>
 <INC-000123.7.0011223344556677@kanri.example>
Date: Mon, 15 Jan 2024 10:00:00 +0900
From: "Yamada, Taro" <taro@example.jp>
To: Help Desk <help@kanri.example>, other@example.com
Cc: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>
Subject: Re: [INC-000123] Printer
 on fire
Auto-Submitted: no

It still smokes.
Please come.
`)
	msg := mustParse(t, raw, Limits{})

	if msg.MessageID != "abc.123@mail.example.jp" {
		t.Errorf("MessageID = %q", msg.MessageID)
	}
	if msg.InReplyTo != "INC-000123.7.0011223344556677@kanri.example" {
		t.Errorf("InReplyTo = %q", msg.InReplyTo)
	}
	if got := strings.Join(msg.References, " "); got != "root@kanri.example INC-000123.7.0011223344556677@kanri.example" {
		t.Errorf("References = %q", got)
	}
	if msg.From != (Address{Name: "Yamada, Taro", Address: "taro@example.jp"}) {
		t.Errorf("From = %+v", msg.From)
	}
	if len(msg.To) != 2 || msg.To[0] != (Address{"Help Desk", "help@kanri.example"}) || msg.To[1] != (Address{"", "other@example.com"}) {
		t.Errorf("To = %+v", msg.To)
	}
	if len(msg.Cc) != 1 || msg.Cc[0].Name != "Jürgen" {
		t.Errorf("Cc = %+v", msg.Cc)
	}
	if msg.Subject != "Re: [INC-000123] Printer on fire" {
		t.Errorf("Subject = %q", msg.Subject)
	}
	if want := time.Date(2024, 1, 15, 1, 0, 0, 0, time.UTC); !msg.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", msg.Date, want)
	}
	if msg.Text != "It still smokes.\nPlease come.\n" {
		t.Errorf("Text = %q", msg.Text)
	}
	if msg.Stripped != "It still smokes.\nPlease come." {
		t.Errorf("Stripped = %q", msg.Stripped)
	}
	if msg.Header.Get("auto-submitted") != "no" || !msg.Header.Has("Return-Path") {
		t.Errorf("Header = %v", msg.Header)
	}
	if msg.ContentType != "text/plain" || len(msg.Warnings) != 0 {
		t.Errorf("ContentType = %q, Warnings = %q", msg.ContentType, msg.Warnings)
	}
}

func TestParseAlternativePrefersPlainAndKeepsHTML(t *testing.T) {
	raw := crlf(`From: a@example.com
Subject: alt
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 is open.=20
This line is very long and was wrapped by the encoder at seventy-six c=
haracters.
--b1
Content-Type: text/html; charset=utf-8

<p>Caf&eacute; is <b>open</b>.</p>
--b1--
`)
	msg := mustParse(t, raw, Limits{})
	if want := "Café is open. \nThis line is very long and was wrapped by the encoder at seventy-six characters."; msg.Text != want {
		t.Errorf("Text = %q, want %q", msg.Text, want)
	}
	if !strings.Contains(msg.HTML, "<b>open</b>") {
		t.Errorf("HTML = %q", msg.HTML)
	}
	if msg.ContentType != "multipart/alternative" {
		t.Errorf("ContentType = %q", msg.ContentType)
	}
}

func TestParseHTMLOnlyBecomesReadableText(t *testing.T) {
	raw := crlf(`From: a@example.com
Subject: html
Content-Type: text/html; charset=utf-8

<html><head><title>ignored</title><style>p{color:red}</style></head>
<body><script>alert(1)</script>
<p>Hello&nbsp;team,</p>
<p>The <a href="https://status.example.com/x">status page</a> says:<br>
down   since
 09:00.</p>
<ul><li>VPN</li><li>Mail</li></ul>
<div class="gmail_quote">On Mon, 15 Jan 2024 at 10:00, Kanri &lt;help@kanri.example&gt; wrote:<br>
<blockquote>Your case <b>INC-000123</b> was resolved.</blockquote></div>
</body></html>
`)
	msg := mustParse(t, raw, Limits{})
	want := "Hello team,\n\nThe status page (https://status.example.com/x) says:\ndown since 09:00.\n\n- VPN\n- Mail\nOn Mon, 15 Jan 2024 at 10:00, Kanri <help@kanri.example> wrote:\n> Your case INC-000123 was resolved."
	if msg.Text != want {
		t.Errorf("Text =\n%q\nwant\n%q", msg.Text, want)
	}
	if want := "Hello team,\n\nThe status page (https://status.example.com/x) says:\ndown since 09:00.\n\n- VPN\n- Mail"; msg.Stripped != want {
		t.Errorf("Stripped =\n%q\nwant\n%q", msg.Stripped, want)
	}
}

func TestParseMixedRelatedWithAttachments(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.4 data "), 20)
	png := []byte("\x89PNG\r\n\x1a\nimage")
	raw := crlf(`From: a@example.com
Subject: files
Content-Type: multipart/mixed; boundary=outer

preamble is ignored
--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=us-ascii

See the screenshot.
--alt
Content-Type: text/html; charset=us-ascii

<p>See the screenshot <img src="cid:shot@x" alt="shot"></p>
--alt--
--rel
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <shot@x>

` + base64.StdEncoding.EncodeToString(png) + `
--rel--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

` + wrap76(base64.StdEncoding.EncodeToString(pdf)) + `
--outer
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D.txt

estimate
--outer--
`)
	msg := mustParse(t, raw, Limits{})
	if msg.Text != "See the screenshot." {
		t.Errorf("Text = %q", msg.Text)
	}
	if len(msg.Attachments) != 3 {
		t.Fatalf("Attachments = %+v", msg.Attachments)
	}
	img, doc, txt := msg.Attachments[0], msg.Attachments[1], msg.Attachments[2]
	if img.ContentType != "image/png" || img.ContentID != "shot@x" || !img.Inline || !bytes.Equal(img.Data, png) {
		t.Errorf("inline image = %+v", img)
	}
	if doc.Filename != "report.pdf" || doc.ContentType != "application/pdf" || doc.Inline || doc.Size != int64(len(pdf)) || !bytes.Equal(doc.Data, pdf) {
		t.Errorf("pdf = %+v", doc)
	}
	if txt.Filename != "見積.txt" || string(txt.Data) != "estimate" {
		t.Errorf("text attachment = %+v", txt)
	}
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

func attachmentMail(sizes ...int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\nSubject: big\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nbody\n")
	for i, n := range sizes {
		b.WriteString("--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"f")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(".bin\"\nContent-Transfer-Encoding: base64\n\n")
		b.WriteString(wrap76(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i)}, n))))
		b.WriteString("\n")
	}
	b.WriteString("--b--\n")
	return crlf(b.String())
}

func TestParseAttachmentLimitsSkipInsteadOfFailing(t *testing.T) {
	msg := mustParse(t, attachmentMail(100, 500, 300, 250), Limits{MaxAttachmentSize: 400, MaxTotalAttachmentSize: 600})
	if msg.Text != "body" {
		t.Errorf("Text = %q", msg.Text)
	}
	got := msg.Attachments
	if len(got) != 4 {
		t.Fatalf("Attachments = %d", len(got))
	}
	// 100: kept. 500: over the per-attachment cap. 300: kept (total 400).
	// 250: would make 650 > 600.
	wantSkipped := []bool{false, true, false, true}
	for i, a := range got {
		if a.Skipped != wantSkipped[i] {
			t.Errorf("attachment %d skipped = %v (%s)", i, a.Skipped, a.SkipReason)
		}
		if a.Skipped && (a.Data != nil || a.SkipReason == "") {
			t.Errorf("attachment %d: skipped but Data=%d reason=%q", i, len(a.Data), a.SkipReason)
		}
		if !a.Skipped && int64(len(a.Data)) != a.Size {
			t.Errorf("attachment %d: %d bytes, Size %d", i, len(a.Data), a.Size)
		}
	}
	if got[1].Size != 500 || !strings.Contains(got[1].SkipReason, "per-attachment") {
		t.Errorf("oversize attachment = %+v", got[1])
	}
	if !strings.Contains(got[3].SkipReason, "total") {
		t.Errorf("total cap reason = %q", got[3].SkipReason)
	}
	if len(msg.Warnings) != 2 {
		t.Errorf("Warnings = %q", msg.Warnings)
	}
}

func TestParseBrokenMIMEIsTypedError(t *testing.T) {
	cases := []struct {
		name, raw, reason string
		headers           bool
	}{
		{"multipart without boundary", "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed\n\nbody\n", "multipart without boundary", true},
		{"boundary never appears", "From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary=zzz\n\njust text\n", "no MIME parts found", true},
		{"malformed header line", "From: a@example.com\nthis is not a header\n\nbody\n", "malformed header", false},
		{"bad header key", "From: a@example.com\nBad Key: x\n\nbody\n", "malformed header", false},
		{"empty", "", "no header fields", false},
		{"body only", "\nhello\n", "no header fields", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := Parse(crlf(tc.raw), Limits{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *ParseError", err, err)
			}
			if pe.Reason != tc.reason {
				t.Errorf("Reason = %q, want %q", pe.Reason, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Error() = %q", err.Error())
			}
			if tc.headers && (msg == nil || msg.Subject != "s" || msg.From.Address != "a@example.com") {
				t.Errorf("partial message = %+v", msg)
			}
		})
	}
}

func TestParseStructureLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n")
	for range 10 {
		b.WriteString("--b\nContent-Type: text/plain\n\nx\n")
	}
	b.WriteString("--b--\n")
	_, err := Parse(crlf(b.String()), Limits{MaxParts: 5})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Reason != "too many MIME parts" {
		t.Errorf("many parts: err = %v", err)
	}

	nested := "From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n"
	for i := 1; i <= 6; i++ {
		nested += "--b" + string(rune('0'+i-1)) + "\nContent-Type: multipart/mixed; boundary=b" + string(rune('0'+i)) + "\n\n"
	}
	_, err = Parse(crlf(nested), Limits{MaxDepth: 3})
	if !errors.As(err, &pe) || pe.Reason != "MIME nesting too deep" {
		t.Errorf("deep nesting: err = %v", err)
	}

	huge := "From: a@example.com\nX-Big: " + strings.Repeat("x", 2000) + "\n\nbody"
	_, err = Parse([]byte(huge), Limits{MaxHeaderBytes: 1000})
	if !errors.As(err, &pe) || pe.Reason != "header too large" {
		t.Errorf("huge header: err = %v", err)
	}
}

func TestParseRepairsInsteadOfFailing(t *testing.T) {
	t.Run("truncated multipart", func(t *testing.T) {
		raw := crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst part\n--b\nContent-Type: text/plain\n\nsecond part, cut off")
		msg := mustParse(t, raw, Limits{})
		if !strings.Contains(msg.Text, "first part") || !strings.Contains(msg.Text, "second part, cut off") {
			t.Errorf("Text = %q", msg.Text)
		}
		if !containsWarning(msg, "truncated") {
			t.Errorf("Warnings = %q", msg.Warnings)
		}
	})
	t.Run("unknown charset", func(t *testing.T) {
		raw := crlf("From: a@example.com\nSubject: =?x-klingon?Q?abc?= ok\nContent-Type: text/plain; charset=x-klingon\n\nnaïve café\n")
		msg := mustParse(t, raw, Limits{})
		if msg.Text != "naïve café\n" {
			t.Errorf("Text = %q", msg.Text)
		}
		if msg.Subject != "abc ok" {
			t.Errorf("Subject = %q", msg.Subject)
		}
		if !containsWarning(msg, `unknown charset "x-klingon"`) {
			t.Errorf("Warnings = %q", msg.Warnings)
		}
	})
	t.Run("latin-1 without charset", func(t *testing.T) {
		msg := mustParse(t, []byte("From: a@example.com\r\n\r\ncaf\xe9 cr\xe8me\r\n"), Limits{})
		if msg.Text != "café crème\n" {
			t.Errorf("Text = %q", msg.Text)
		}
	})
	t.Run("unknown transfer encoding and bad base64", func(t *testing.T) {
		raw := crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: x-gzip64\n\nplain after all\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8g!!d29y\nbGQ=\ntrailing garbage\n--b--\n")
		msg := mustParse(t, raw, Limits{})
		if msg.Text != "plain after all\nhello world" {
			t.Errorf("Text = %q", msg.Text)
		}
		if !containsWarning(msg, "unknown transfer encoding") || !containsWarning(msg, "base64") {
			t.Errorf("Warnings = %q", msg.Warnings)
		}
	})
	t.Run("unparseable date and bad encoded word", func(t *testing.T) {
		raw := crlf("From: a@example.com\nDate: sometime last week\nSubject: =?utf-8?B?!!!?= rest\n\nx")
		msg := mustParse(t, raw, Limits{})
		if !msg.Date.IsZero() || !containsWarning(msg, "Date") {
			t.Errorf("Date = %v, Warnings = %q", msg.Date, msg.Warnings)
		}
		if msg.Subject != "=?utf-8?B?!!!?= rest" {
			t.Errorf("Subject = %q", msg.Subject)
		}
	})
	t.Run("mbox separator and LF endings", func(t *testing.T) {
		msg := mustParse(t, []byte("From taro@example.jp Mon Jan 15 10:00:00 2024\nFrom: taro@example.jp\nSubject: hi\n\nbody\n"), Limits{})
		if msg.Subject != "hi" || msg.Text != "body\n" {
			t.Errorf("msg = %+v", msg)
		}
	})
}

func TestParseFlowedText(t *testing.T) {
	raw := crlf("From: a@example.com\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=no\n\nThis paragraph was \nwrapped by the \nclient.\n> quoted \n> too\n-- \nsig\n")
	msg := mustParse(t, raw, Limits{})
	if want := "This paragraph was wrapped by the client.\n> quoted too\n-- \nsig\n"; msg.Text != want {
		t.Errorf("Text = %q, want %q", msg.Text, want)
	}
	if msg.Stripped != "This paragraph was wrapped by the client." {
		t.Errorf("Stripped = %q", msg.Stripped)
	}
}

func TestParseDeliveryStatusReport(t *testing.T) {
	raw := crlf(`From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

The mail could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Final-Recipient: rfc822; nobody@example.com
Action: failed
Status: 5.1.1
--r
Content-Type: message/rfc822

From: help@kanri.example
Subject: [INC-000001] hello

original
--r--
`)
	msg := mustParse(t, raw, Limits{})
	if msg.ReportType != "delivery-status" || msg.ContentType != "multipart/report" {
		t.Errorf("ReportType = %q, ContentType = %q", msg.ReportType, msg.ContentType)
	}
	if len(msg.Attachments) != 2 || msg.Attachments[1].ContentType != "message/rfc822" {
		t.Errorf("Attachments = %+v", msg.Attachments)
	}
}

func containsWarning(msg *Message, substr string) bool {
	for _, w := range msg.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}
