package email

import (
	"encoding/base64"
	"mime"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// Byte-exact fixtures, independent of the x/text encoders.
const (
	jisTest  = "\x1b$B%F%9%H\x1b(B"       // テスト in ISO-2022-JP
	sjisTest = "\x83\x65\x83\x58\x83\x67" // テスト in Shift_JIS
	eucTest  = "\xa5\xc6\xa5\xb9\xa5\xc8" // テスト in EUC-JP
)

func encode(t *testing.T, enc encoding.Encoding, s string) string {
	t.Helper()
	out, err := enc.NewEncoder().String(s)
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return out
}

func bword(charset, raw string) string {
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString([]byte(raw)) + "?="
}

func TestJapaneseBodies(t *testing.T) {
	const prose = "お世話になっております。①の件、№123で確認しました。"
	cases := []struct {
		name, header, body, want string
	}{
		{"iso-2022-jp literal", "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit", jisTest, "テスト"},
		{"iso-2022-jp", "Content-Type: text/plain; charset=iso-2022-jp", encode(t, japanese.ISO2022JP, prose), prose},
		{"iso-2022-jp-ms label", "Content-Type: text/plain; charset=\"iso-2022-jp-ms\"", encode(t, japanese.ISO2022JP, prose), prose},
		{"iso-2022-jp quoted-printable", "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: quoted-printable", "=1B$B%F%9%H=1B(B", "テスト"},
		{"shift_jis literal", "Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit", sjisTest, "テスト"},
		{"shift_jis extensions", "Content-Type: text/plain; charset=shift_jis", encode(t, japanese.ShiftJIS, prose), prose},
		{"cp932 label", "Content-Type: text/plain; charset=cp932", encode(t, japanese.ShiftJIS, prose), prose},
		{"windows-31j label", "Content-Type: text/plain; charset=Windows-31J", encode(t, japanese.ShiftJIS, prose), prose},
		{"x-sjis label", "Content-Type: text/plain; charset=x-sjis", encode(t, japanese.ShiftJIS, prose), prose},
		{"euc-jp literal", "Content-Type: text/plain; charset=EUC-JP", eucTest, "テスト"},
		{"euc-jp", "Content-Type: text/plain; charset=euc-jp", encode(t, japanese.EUCJP, "日本語のメールです。"), "日本語のメールです。"},
		{"base64 iso-2022-jp", "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: base64", base64.StdEncoding.EncodeToString([]byte(encode(t, japanese.ISO2022JP, prose))), prose},
		// Outlook sends JIS without any charset (Zammad #6144).
		{"no charset, JIS escapes", "Content-Type: text/plain", encode(t, japanese.ISO2022JP, prose), prose},
		{"no content-type, JIS escapes", "", jisTest, "テスト"},
		{"no charset, shift_jis", "Content-Type: text/plain", encode(t, japanese.ShiftJIS, prose), prose},
		{"no charset, euc-jp", "Content-Type: text/plain", encode(t, japanese.EUCJP, "日本語のメールです。ひらがなとカタカナ。"), "日本語のメールです。ひらがなとカタカナ。"},
		{"no charset, utf-8", "Content-Type: text/plain", prose, prose},
		{"us-ascii label on JIS", "Content-Type: text/plain; charset=us-ascii", jisTest, "テスト"},
		{"iso-2022-jp label on utf-8", "Content-Type: text/plain; charset=iso-2022-jp", prose, prose},
		{"utf-8 label on shift_jis", "Content-Type: text/plain; charset=utf-8", encode(t, japanese.ShiftJIS, prose), prose},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			head := "From: a@example.jp\nSubject: s\n"
			if tc.header != "" {
				head += tc.header + "\n"
			}
			raw := []byte(strings.ReplaceAll(head, "\n", "\r\n") + "\r\n" + tc.body)
			msg := mustParse(t, raw, Limits{})
			if msg.Text != tc.want {
				t.Errorf("Text = %q, want %q (warnings %q)", msg.Text, tc.want, msg.Warnings)
			}
		})
	}
}

func TestJapaneseHeaders(t *testing.T) {
	subject := "【障害】メールサーバーが応答しません（至急）"
	jis := encode(t, japanese.ISO2022JP, subject)
	// Split the JIS bytes inside a two-byte character, as some mailers do
	// when they cut encoded-words at a fixed length.
	cut := len("\x1b$B") + 5
	split := bword("ISO-2022-JP", jis[:cut]) + "\n " + bword("ISO-2022-JP", jis[cut:])

	cases := []struct {
		name, header, wantSubject, wantFrom string
		warn                                string
	}{
		{
			name:        "iso-2022-jp words",
			header:      "Subject: " + mime.BEncoding.Encode("utf-8", "Re: ") + bword("ISO-2022-JP", jis) + "\nFrom: " + bword("iso-2022-jp", encode(t, japanese.ISO2022JP, "山田 太郎")) + " <taro@example.jp>",
			wantSubject: "Re: " + subject, wantFrom: "山田 太郎",
		},
		{
			name:        "word split inside a character",
			header:      "Subject: " + split + "\nFrom: taro@example.jp",
			wantSubject: subject,
		},
		{
			name:        "shift_jis and cp932 words",
			header:      "Subject: " + bword("Shift_JIS", encode(t, japanese.ShiftJIS, "①テスト")) + "\nFrom: \"" + bword("CP932", encode(t, japanese.ShiftJIS, "佐藤")) + "\" <sato@example.jp>",
			wantSubject: "①テスト", wantFrom: "佐藤",
		},
		{
			name:        "iso-2022-jp-ms word (FreeScout #3312)",
			header:      "Subject: " + bword("iso-2022-jp-ms", encode(t, japanese.ISO2022JP, "№5 ①件")),
			wantSubject: "№5 ①件",
		},
		{
			name:        "euc-jp Q word",
			header:      "Subject: =?EUC-JP?Q?" + qEncode(encode(t, japanese.EUCJP, "テスト")) + "?=",
			wantSubject: "テスト",
		},
		{
			name:        "raw shift_jis subject",
			header:      "Subject: " + encode(t, japanese.ShiftJIS, "お問い合わせの件"),
			wantSubject: "お問い合わせの件", warn: "raw non-ASCII header",
		},
		{
			name:        "raw JIS subject",
			header:      "Subject: " + jisTest,
			wantSubject: "テスト", warn: "raw non-ASCII header",
		},
		{
			name:        "unknown charset in a name",
			header:      "Subject: ok\nFrom: =?x-unknown?B?" + base64.StdEncoding.EncodeToString([]byte("Taro")) + "?= <taro@example.jp>",
			wantSubject: "ok", wantFrom: "Taro", warn: "unknown charset",
		},
		{
			name:        "attachment-style encoded word inside quotes",
			header:      "Subject: x\nFrom: \"" + bword("ISO-2022-JP", encode(t, japanese.ISO2022JP, "営業部")) + " (代表)\" <sales@example.jp>",
			wantSubject: "x", wantFrom: "営業部 (代表)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(strings.ReplaceAll(tc.header, "\n", "\r\n") + "\r\n\r\nbody")
			msg := mustParse(t, raw, Limits{})
			if msg.Subject != tc.wantSubject {
				t.Errorf("Subject = %q, want %q (warnings %q)", msg.Subject, tc.wantSubject, msg.Warnings)
			}
			if tc.wantFrom != "" && msg.From.Name != tc.wantFrom {
				t.Errorf("From.Name = %q, want %q", msg.From.Name, tc.wantFrom)
			}
			if tc.warn != "" && !containsWarning(msg, tc.warn) {
				t.Errorf("Warnings = %q, want one with %q", msg.Warnings, tc.warn)
			}
		})
	}
}

func qEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString("=")
		b.WriteString(strings.ToUpper(hexByte(s[i])))
	}
	return b.String()
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

func TestJapaneseAttachmentName(t *testing.T) {
	name := encode(t, japanese.ISO2022JP, "見積書.pdf")
	raw := crlf("From: a@example.jp\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=ISO-2022-JP\n\n" + jisTest +
		"\n--b\nContent-Type: application/pdf; name=\"" + bword("ISO-2022-JP", name) + "\"\nContent-Disposition: attachment; filename=\"" + bword("ISO-2022-JP", name) +
		"\"\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"" +
		encode(t, japanese.ShiftJIS, "資料.xlsx") + "\"\n\nxx\n--b--\n")
	msg := mustParse(t, raw, Limits{})
	if msg.Text != "テスト" {
		t.Errorf("Text = %q", msg.Text)
	}
	if len(msg.Attachments) != 2 || msg.Attachments[0].Filename != "見積書.pdf" || string(msg.Attachments[0].Data) != "%PDF" {
		t.Fatalf("Attachments = %+v", msg.Attachments)
	}
	if msg.Attachments[1].Filename != "資料.xlsx" {
		t.Errorf("raw Shift_JIS filename = %q", msg.Attachments[1].Filename)
	}
}

func TestDetectCharset(t *testing.T) {
	for _, tc := range []struct {
		in, name, text string
	}{
		{"plain ascii", "us-ascii", "plain ascii"},
		{"naïve", "utf-8", "naïve"},
		{jisTest, "iso-2022-jp", "テスト"},
		{sjisTest, "shift_jis", "テスト"},
		{eucTest, "euc-jp", "テスト"},
		{"caf\xe9", "windows-1252", "café"},
	} {
		name, text := detectCharset([]byte(tc.in))
		if name != tc.name || text != tc.text {
			t.Errorf("detectCharset(%q) = %s %q, want %s %q", tc.in, name, text, tc.name, tc.text)
		}
	}
}
