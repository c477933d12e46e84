package email

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to the parser. It calls parse, not Parse,
// so that a panic is reported instead of being recovered.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n",
		"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <y@example.jp>\nSubject: =?utf-8?q?caf=C3=A9?=\n\n\x1b$B%F%9%H\x1b(B",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=shift_jis\n\n\x83\x65\x83\x58\x83\x67\n--b\nContent-Type: application/pdf; name=\"=?utf-8?B?eA==?=\"\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--b--\n",
		"Content-Type: multipart/alternative; boundary=\"x\"\n\n--x\nContent-Type: text/html\n\n<p>a<blockquote>b</blockquote>\n--x",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\nContent-Type: message/delivery-status\n\nStatus: 5.0.0\n--r--",
		"Content-Type: text/plain; format=flowed; delsp=yes\n\na \nb\n> c \n> d\n-- \nsig",
		"Content-Type: multipart/mixed\n\nno boundary",
		"Subject: =?x?Q?=ZZ?= =?utf-8?B?####?= =?iso-2022-jp?B?GyRC?=\n\n",
		"From: \"unterminated <a@b\nTo: ,,,;:<>,(((\n\n",
		"Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x\n\ny\n--d--",
		"Content-Transfer-Encoding: quoted-printable\n\n=E3=81=82=\n=4",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	limits := Limits{MaxAttachmentSize: 1 << 10, MaxTotalAttachmentSize: 4 << 10, MaxParts: 50, MaxDepth: 8, MaxHeaderBytes: 16 << 10, MaxTextSize: 64 << 10}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := parse(raw, limits)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if msg == nil {
			t.Fatal("nil message without error")
		}
		for name, s := range map[string]string{"Text": msg.Text, "Stripped": msg.Stripped, "Subject": msg.Subject, "From": msg.From.Name} {
			if !utf8.ValidString(s) {
				t.Errorf("%s is not valid UTF-8: %q", name, s)
			}
		}
		if int64(len(msg.Text)) > limits.MaxTextSize {
			t.Errorf("Text of %d bytes", len(msg.Text))
		}
		var kept int64
		for _, a := range msg.Attachments {
			if a.Skipped != (a.Data == nil) && a.Size > 0 {
				t.Errorf("attachment %+v", a)
			}
			kept += int64(len(a.Data))
		}
		if kept > limits.MaxTotalAttachmentSize {
			t.Errorf("kept %d attachment bytes", kept)
		}
		_ = ParseCommand(msg.Stripped)
		_ = DedupeKey(msg, raw)
	})
}
