package email

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func notification() Outgoing {
	return Outgoing{
		From:       Address{Name: "Kanri サービスデスク", Address: "help@kanri.example"},
		To:         Address{Name: "山田 太郎", Address: "taro@example.jp"},
		Cc:         []Address{{Address: "boss@example.jp"}},
		ReplyTo:    []Address{{Address: "help@kanri.example"}},
		Subject:    "プリンターが故障しました — resolved",
		CaseID:     "INC-000123",
		Seq:        7,
		Domain:     "kanri.example",
		Text:       "ご連絡ありがとうございます。\n本件は解決しました。問題が続く場合は「再開」と返信してください。\n",
		InReplyTo:  "<CAF=abc@mail.gmail.com>",
		References: []string{"<first@example.jp>"},
		Date:       time.Date(2024, 1, 15, 10, 0, 0, 0, time.FixedZone("JST", 9*3600)),
	}
}

func TestComposeRoundTrip(t *testing.T) {
	c, err := Compose(notification())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(c.Raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("raw message has bare LF line endings")
	}
	for _, line := range strings.Split(string(c.Raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d bytes", len(line))
		}
		for i := 0; i < len(line); i++ {
			if line[i] >= 0x80 {
				t.Fatalf("8-bit data on the wire: %q", line)
			}
		}
	}
	wantID := MessageIDFor("INC-000123", 7, "taro@example.jp", "kanri.example")
	if c.MessageID != wantID || !strings.HasPrefix(wantID, "INC-000123.7.") {
		t.Errorf("MessageID = %q, want %q", c.MessageID, wantID)
	}
	if c.EnvelopeFrom != "help@kanri.example" || strings.Join(c.Recipients, ",") != "taro@example.jp,boss@example.jp" {
		t.Errorf("envelope = %q -> %q", c.EnvelopeFrom, c.Recipients)
	}

	msg := mustParse(t, c.Raw, Limits{})
	if len(msg.Warnings) > 0 {
		t.Errorf("Warnings = %q", msg.Warnings)
	}
	if msg.Subject != "[INC-000123] プリンターが故障しました — resolved" {
		t.Errorf("Subject = %q", msg.Subject)
	}
	if msg.MessageID != wantID || msg.InReplyTo != "CAF=abc@mail.gmail.com" {
		t.Errorf("ids: %q %q", msg.MessageID, msg.InReplyTo)
	}
	wantRefs := []string{"INC-000123@kanri.example", "first@example.jp", "CAF=abc@mail.gmail.com"}
	if strings.Join(msg.References, " ") != strings.Join(wantRefs, " ") {
		t.Errorf("References = %q, want %q", msg.References, wantRefs)
	}
	if msg.From.Name != "Kanri サービスデスク" || msg.To[0].Name != "山田 太郎" || msg.Cc[0].Address != "boss@example.jp" || msg.ReplyTo[0].Address != "help@kanri.example" {
		t.Errorf("addresses: %+v %+v %+v %+v", msg.From, msg.To, msg.Cc, msg.ReplyTo)
	}
	if !msg.Date.Equal(notification().Date) {
		t.Errorf("Date = %v", msg.Date)
	}
	if want := "ご連絡ありがとうございます。\n本件は解決しました。問題が続く場合は「再開」と返信してください。\n"; msg.Text != want {
		t.Errorf("Text = %q", msg.Text)
	}
	h := msg.Header
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("X-Kanri-Case") != "INC-000123" || h.Get("Precedence") != "bulk" || h.Get("X-Auto-Response-Suppress") != "All" {
		t.Errorf("loop headers: %v", h)
	}
	if h.Get("Content-Transfer-Encoding") != "base64" {
		t.Errorf("Japanese body encoded as %q", h.Get("Content-Transfer-Encoding"))
	}
	// Kanri recognises its own mail when it comes back.
	if auto, reason := (Classifier{OwnDomain: "kanri.example"}).Classify(msg); !auto || !strings.HasPrefix(reason, "own") {
		t.Errorf("own mail classified %v %q", auto, reason)
	}
	// And a reply to it threads back to the case.
	if caseID, ok := CaseIDFromSubject("Re: " + msg.Subject); !ok || caseID != "INC-000123" {
		t.Errorf("subject tag: %q %v", caseID, ok)
	}
}

func TestComposeIsDeterministic(t *testing.T) {
	a, err := Compose(notification())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Compose(notification())
	if !bytes.Equal(a.Raw, b.Raw) {
		t.Error("the same notification composed twice differs")
	}
	other := notification()
	other.To = Address{Address: "hanako@example.jp"}
	c, _ := Compose(other)
	if c.MessageID == a.MessageID {
		t.Error("two recipients share a Message-ID")
	}
}

func TestComposeEncodings(t *testing.T) {
	out := notification()
	out.Subject = "Printer fixed"
	out.Text = "Hello,\nyour case is resolved.\n"
	out.Cc, out.ReplyTo, out.InReplyTo, out.References = nil, nil, "", nil
	out.From.Name, out.To.Name = "Kanri", "Taro"
	c, err := Compose(out)
	if err != nil {
		t.Fatal(err)
	}
	msg := mustParse(t, c.Raw, Limits{})
	if msg.Header.Get("Content-Transfer-Encoding") != "7bit" || msg.Subject != "[INC-000123] Printer fixed" || msg.Header.Has("In-Reply-To") {
		t.Errorf("ascii mail: cte=%q subject=%q", msg.Header.Get("Content-Transfer-Encoding"), msg.Subject)
	}
	if got := strings.Join(msg.References, " "); got != "INC-000123@kanri.example" {
		t.Errorf("References = %q", got)
	}

	out.Text = "Grüße aus Köln — the café is open again. " + strings.Repeat("long line ", 10)
	out.Subject = "[INC-000123] already tagged"
	out.HTML = "<p>Grüße <b>aus</b> Köln</p>"
	out.AutoSubmitted = "auto-replied"
	c, err = Compose(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(c.Raw, []byte("Content-Transfer-Encoding: quoted-printable")) {
		t.Errorf("latin text not quoted-printable:\n%s", c.Raw)
	}
	msg = mustParse(t, c.Raw, Limits{})
	if msg.Subject != "[INC-000123] already tagged" || msg.ContentType != "multipart/alternative" {
		t.Errorf("subject %q, type %q", msg.Subject, msg.ContentType)
	}
	if msg.Text != out.Text || msg.HTML != out.HTML {
		t.Errorf("Text = %q\nHTML = %q", msg.Text, msg.HTML)
	}
	if msg.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("Auto-Submitted = %q", msg.Header.Get("Auto-Submitted"))
	}
	if !regexp.MustCompile(`boundary="?kanri-INC-000123-7-`).Match(c.Raw) {
		t.Error("boundary is not derived from the Message-ID")
	}
}

func TestComposeRejectsBadInput(t *testing.T) {
	mutate := map[string]func(*Outgoing){
		"bad case id":          func(o *Outgoing) { o.CaseID = "INC-123" },
		"negative seq":         func(o *Outgoing) { o.Seq = -1 },
		"CRLF in address":      func(o *Outgoing) { o.To.Address = "taro@example.jp\r\nBcc: x@evil.example" },
		"CRLF in name":         func(o *Outgoing) { o.To.Name = "Taro\r\nBcc: x@evil.example" },
		"name-addr as address": func(o *Outgoing) { o.To.Address = "Taro <taro@example.jp>" },
		"bad cc":               func(o *Outgoing) { o.Cc = []Address{{Address: "nope"}} },
		"bad domain":           func(o *Outgoing) { o.Domain = "kanri example" },
		"bad auto-submitted":   func(o *Outgoing) { o.AutoSubmitted = "yes" },
		"bad envelope sender":  func(o *Outgoing) { o.EnvelopeFrom = "a@b\r\nRCPT TO:<x@y>" },
		"quote in In-Reply-To": func(o *Outgoing) { o.InReplyTo = `<a"b@c>` },
		"quote in a reference": func(o *Outgoing) { o.References = []string{`<a"b@c>`} },
		"missing from":         func(o *Outgoing) { o.From = Address{} },
	}
	for name, f := range mutate {
		out := notification()
		f(&out)
		if _, err := Compose(out); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// A subject with line breaks is folded into one line, not injected.
	out := notification()
	out.Subject = "hello\r\nBcc: x@evil.example"
	c, err := Compose(out)
	if err != nil {
		t.Fatal(err)
	}
	msg := mustParse(t, c.Raw, Limits{})
	if msg.Header.Has("Bcc") || msg.Subject != "[INC-000123] hello Bcc: x@evil.example" {
		t.Errorf("subject injection: %q, header %v", msg.Subject, msg.Header)
	}
}
