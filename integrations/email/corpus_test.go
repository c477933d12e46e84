package email

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The .eml corpus in testdata/ (see testdata/README.md; testdata/gen.go
// writes the files). The end-to-end test e2e/email_corpus_test.go delivers
// the same files to a running Kanri.

// corpusCase is the case id {{CASE}} stands for in these tests.
const corpusCase = "INC-000042"

// corpusMaxSize is the mailbox max_size the end-to-end test configures:
// only oversize-attachment.eml is above it.
const corpusMaxSize = 32 << 10

// corpusClassifier is configured as the app configures it for the
// end-to-end test: Kanri's domain and its own addresses.
var corpusClassifier = Classifier{OwnDomain: "kanri.test", OwnAddresses: []string{"kanri@kanri.test", "support@example.com"}}

// readCorpus returns every fixture by file name, with {{CASE}} filled in.
func readCorpus(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) < 20 {
		tb.Fatalf("the corpus has %d files; testdata/ is incomplete", len(paths))
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(p)] = bytes.ReplaceAll(b, []byte("{{CASE}}"), []byte(corpusCase))
	}
	return out
}

func parseCorpusFile(t *testing.T, corpus map[string][]byte, name string) *Message {
	t.Helper()
	raw, ok := corpus[name]
	if !ok {
		t.Fatalf("%s is missing from testdata/", name)
	}
	msg, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return msg
}

// TestCorpusWireFormat: every fixture is in wire format (CRLF only, no
// bare CR or LF, 7-bit or 8-bit but no NUL), and the README describes
// exactly the files there are.
func TestCorpusWireFormat(t *testing.T) {
	corpus := readCorpus(t)
	readme, err := os.ReadFile(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range corpus {
		if n, m := bytes.Count(raw, []byte("\n")), bytes.Count(raw, []byte("\r\n")); n != m || bytes.Count(raw, []byte("\r")) != m {
			t.Errorf("%s: %d LF, %d CR, %d CRLF: not CRLF throughout", name, n, bytes.Count(raw, []byte("\r")), m)
		}
		if bytes.IndexByte(raw, 0) >= 0 {
			t.Errorf("%s: NUL byte", name)
		}
		if !bytes.Contains(readme, []byte("`"+name+"`")) {
			t.Errorf("%s is not described in testdata/README.md", name)
		}
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		name := strings.TrimPrefix(line, "| `")
		name = name[:strings.IndexByte(name, '`')]
		if _, ok := corpus[name]; !ok && strings.HasSuffix(name, ".eml") {
			t.Errorf("README lists %s, which is not in testdata/", name)
		}
	}
}

// TestCorpusJapanese: the Japanese fixtures decode to the exact subject,
// sender name and body, whatever the charset, transfer encoding or label,
// with a warning only where the charset had to be guessed.
func TestCorpusJapanese(t *testing.T) {
	corpus := readCorpus(t)
	tests := []struct {
		file, subject, name, text string
		warnings                  []string
	}{
		{
			file:    "ja-iso2022jp-7bit.eml",
			subject: "会議室のプロジェクターが映りません",
			name:    "山田 リタ",
			text:    "お疲れ様です。山田です。\n\n三階の会議室Ａのプロジェクターが映りません。\nＨＤＭＩケーブルを替えても「信号なし」と表示されます。\n\nよろしくお願いいたします。\n",
		},
		{
			file:    "ja-iso2022jp-qp.eml",
			subject: "【至急】経費精算システムにログインできない",
			name:    "佐藤",
			text: "経理部の佐藤です。\n\n今朝から経費精算システムにログインできません。\n" +
				"ブラウザはChromeとEdgeの両方で試しましたが、どちらも同じエラー画面が表示されてしまいます。\n" +
				"エラーコード：E-1024（認証サーバーに接続できません）\n\n本日締めのため、至急対応をお願いします。\n",
		},
		{
			file:    "ja-iso2022jp-ms-nec.eml",
			subject: "㈱カンリ　ＰＣ交換の件（№12）",
			name:    "田中",
			text:    "情報システム部 御中\n\n㈱カンリの田中です。\nＰＣ交換の手順は以下のとおりです。\n①データのバックアップ\n②旧ＰＣの返却\n③新ＰＣの受け取り\n\n管理番号：№12345\n",
		},
		{
			file:    "ja-cp932-nec.eml",
			subject: "№３の複合機が故障しています（㈱髙橋商事）",
			name:    "髙橋",
			text:    "総務部の髙橋です。\n\n３階の複合機（管理番号№３）が紙詰まりで動きません。\n①トレイを開けても紙が見えません\n②エラー表示は「J-21」です\n\n㈱髙橋商事\n",
		},
		{
			file:    "ja-euc-jp.eml",
			subject: "共有フォルダへのアクセス権限申請",
			name:    "鈴木",
			text:    "開発部の鈴木です。\n\n共有フォルダ「開発資料」への書き込み権限をお願いします。\n期限：来週月曜日\n",
		},
		{
			file:    "ja-outlook-nocharset.eml",
			subject: "メールが送信できません",
			name:    "伊藤",
			text: "お世話になっております。伊藤です。\n\n本日昼頃から、社外宛てのメールが送信できません。\n送信トレイに残ったままになります。\n\n" +
				"-----Original Message-----\n差出人: 情報システム部\n件名: メンテナンスのお知らせ\n\n今夜メンテナンスを行います。\n",
			warnings: []string{"no charset declared; decoded as iso-2022-jp"},
		},
		{
			file:     "ja-nocharset-sjis-raw-header.eml",
			subject:  "パスワードの再設定をお願いします",
			text:     "パスワードを忘れてしまいました。\n再設定の手続きを教えてください。\n",
			warnings: []string{"raw non-ASCII header text; decoded as shift_jis", "no charset declared; decoded as shift_jis"},
		},
		{
			file:    "ja-html-only-meta-shiftjis.eml",
			subject: "ＶＰＮに接続できません",
			name:    "小林",
			text:    "営業部の小林です。\n\n自宅からＶＰＮに接続できません。\n「認証に失敗しました」と表示されます。",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			msg := parseCorpusFile(t, corpus, tt.file)
			if msg.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", msg.Subject, tt.subject)
			}
			if msg.From.Name != tt.name || msg.From.Address != "rita@example.com" {
				t.Errorf("From = %+v, want %q <rita@example.com>", msg.From, tt.name)
			}
			if msg.Text != tt.text {
				t.Errorf("Text = %q\nwant   %q", msg.Text, tt.text)
			}
			if strings.ContainsAny(msg.Text+msg.Subject, "\x1b\uFFFD?") {
				t.Errorf("escape, replacement or '?' left in %q / %q", msg.Subject, msg.Text)
			}
			if !slices.Equal(msg.Warnings, tt.warnings) {
				t.Errorf("Warnings = %q, want %q", msg.Warnings, tt.warnings)
			}
			if title(msg.Subject) != tt.subject {
				t.Errorf("case title %q, want the subject", title(msg.Subject))
			}
			if auto, why := corpusClassifier.Classify(msg); auto {
				t.Errorf("a person's mail classified automatic: %s", why)
			}
		})
	}

	// The Outlook attribution block is cut from what the case shows.
	if got := parseCorpusFile(t, corpus, "ja-outlook-nocharset.eml").Stripped; got != "お世話になっております。伊藤です。\n\n本日昼頃から、社外宛てのメールが送信できません。\n送信トレイに残ったままになります。" {
		t.Errorf("Outlook reply stripped to %q", got)
	}
}

// corpusClassification is the classifier's verdict on each parseable
// fixture: the rule that makes it automatic, or "" for mail a person wrote.
var corpusClassification = map[string]string{
	// Automatic mail, and the rule that catches it.
	"dsn-bounce.eml":                "delivery-status report",
	"dsn-exchange-ndr-on-case.eml":  "delivery-status report",
	"ooo-auto-submitted.eml":        "auto-submitted: auto-replied",
	"ooo-exchange-suppress.eml":     "x-auto-response-suppress: all",
	"ooo-precedence-auto-reply.eml": "precedence: auto_reply",
	"list-mailing-list.eml":         "list mail: List-Id",
	"bulk-newsletter.eml":           "precedence: bulk",
	"own-echo-x-kanri-case.eml":     "own mail: X-Kanri-Case header",
	"own-echo-msgid-only.eml":       "own message-id",
	// Mail a person wrote.
	"en-opener-printer.eml":                             "",
	"ja-iso2022jp-7bit.eml":                             "",
	"ja-iso2022jp-qp.eml":                               "",
	"ja-iso2022jp-ms-nec.eml":                           "",
	"ja-cp932-nec.eml":                                  "",
	"ja-euc-jp.eml":                                     "",
	"ja-outlook-nocharset.eml":                          "",
	"ja-nocharset-sjis-raw-header.eml":                  "",
	"ja-html-only-meta-shiftjis.eml":                    "",
	"html-only.eml":                                     "",
	"multipart-alternative-inline-image-attachment.eml": "",
	"dup-message-id-1.eml":                              "",
	"dup-message-id-2.eml":                              "",
	"reply-relay-rewritten-references.eml":              "",
	"reply-relay-rewritten-subject-tag.eml":             "",
	"oversize-attachment.eml":                           "",
}

// TestCorpusClassification: every parseable fixture is classified, and the
// loop fixtures are automatic for the right reason.
func TestCorpusClassification(t *testing.T) {
	corpus := readCorpus(t)
	for name := range corpus {
		if name == "broken-multipart-no-boundary.eml" {
			continue
		}
		want, ok := corpusClassification[name]
		if !ok {
			t.Errorf("%s: no expected classification in corpusClassification", name)
			continue
		}
		msg := parseCorpusFile(t, corpus, name)
		auto, why := corpusClassifier.Classify(msg)
		if auto != (want != "") || why != want {
			t.Errorf("%s: Classify = %v %q, want %v %q", name, auto, why, want != "", want)
		}
	}

	// The bounce is recognised from its structure; the returned Kanri
	// headers inside it are not the bounce's own.
	dsn := parseCorpusFile(t, corpus, "dsn-bounce.eml")
	if dsn.ReportType != "delivery-status" || dsn.ContentType != "multipart/report" || dsn.From.Address != "MAILER-DAEMON@mx.example.com" {
		t.Errorf("bounce: report %q, type %q, from %+v", dsn.ReportType, dsn.ContentType, dsn.From)
	}
	if dsn.Header.Has(HeaderCase) {
		t.Error("bounce: the returned message's X-Kanri-Case leaked into the top-level header")
	}
	if rp, ok := returnPath(dsn.Header); !ok || rp != "" {
		t.Errorf("bounce: Return-Path %q, %v; want the null path", rp, ok)
	}
}

// TestCorpusThreading: a reply whose thread a relay rewrote still names
// its case, through Kanri's thread reference in References or through the
// subject tag; Kanri's own echo names its case both ways.
func TestCorpusThreading(t *testing.T) {
	corpus := readCorpus(t)
	const sesAck = "0102018f3c91aa10-3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d-000000@eu-west-1.amazonses.com"
	tests := []struct {
		file        string
		candidates  []string
		byReference string // CaseIDFromReferences
		bySubject   string // CaseIDFromSubject
	}{
		{"reply-relay-rewritten-references.eml", []string{sesAck, corpusCase + "@kanri.test"}, corpusCase, ""},
		{"reply-relay-rewritten-subject-tag.eml", []string{sesAck}, "", corpusCase},
		{"own-echo-x-kanri-case.eml", []string{"print-2f9c@client.test", corpusCase + "@kanri.test"}, corpusCase, corpusCase},
		{"ooo-auto-submitted.eml", nil, "", corpusCase},
		{"dsn-exchange-ndr-on-case.eml", []string{corpusCase + ".1.2b4d6f8a0c1e3a5b@kanri.test", corpusCase + "@kanri.test"}, corpusCase, corpusCase},
		{"own-echo-msgid-only.eml", nil, "", "INC-000777"},
		{"en-opener-printer.eml", nil, "", ""},
	}
	for _, tt := range tests {
		msg := parseCorpusFile(t, corpus, tt.file)
		if got := ThreadCandidates(msg); !slices.Equal(got, tt.candidates) {
			t.Errorf("%s: ThreadCandidates = %q, want %q", tt.file, got, tt.candidates)
		}
		if got, _ := CaseIDFromReferences(msg, "kanri.test"); got != tt.byReference {
			t.Errorf("%s: CaseIDFromReferences = %q, want %q", tt.file, got, tt.byReference)
		}
		if got, _ := CaseIDFromSubject(msg.Subject); got != tt.bySubject {
			t.Errorf("%s: CaseIDFromSubject(%q) = %q, want %q", tt.file, msg.Subject, got, tt.bySubject)
		}
	}

	// The relay rewrote the reply's own Message-ID too: it is not one of
	// Kanri's, and the reply's new text is what the case gets.
	msg := parseCorpusFile(t, corpus, "reply-relay-rewritten-references.eml")
	if _, _, ok := ParseOwnMessageID(msg.MessageID, "kanri.test"); ok || !strings.HasSuffix(msg.MessageID, "@eu-west-1.amazonses.com") {
		t.Errorf("rewritten Message-ID %q", msg.MessageID)
	}
	if msg.Stripped != `The printer now shows "offline" on the panel.` {
		t.Errorf("Stripped = %q", msg.Stripped)
	}
	if got := parseCorpusFile(t, corpus, "reply-relay-rewritten-subject-tag.eml").Stripped; got != "I restarted it; still offline." {
		t.Errorf("Outlook reply stripped to %q", got)
	}
	if got := title(parseCorpusFile(t, corpus, "reply-relay-rewritten-subject-tag.eml").Subject); got != "received: Cannot print to floor 3 printer" {
		t.Errorf("title of the tagged reply: %q", got)
	}

	// The echo's own Message-ID is Kanri's, for history entry 1.
	echo := parseCorpusFile(t, corpus, "own-echo-x-kanri-case.eml")
	if id, seq, ok := ParseOwnMessageID(echo.MessageID, "kanri.test"); !ok || id != corpusCase || seq != 1 {
		t.Errorf("own echo Message-ID %q: %q %d %v", echo.MessageID, id, seq, ok)
	}
}

// TestCorpusDuplicate: the two copies differ in their bytes but not in
// their Message-ID, so they share one dedupe key.
func TestCorpusDuplicate(t *testing.T) {
	corpus := readCorpus(t)
	a, b := corpus["dup-message-id-1.eml"], corpus["dup-message-id-2.eml"]
	if bytes.Equal(a, b) {
		t.Fatal("the two copies are byte-identical; they should differ as two deliveries do")
	}
	ma, mb := parseCorpusFile(t, corpus, "dup-message-id-1.eml"), parseCorpusFile(t, corpus, "dup-message-id-2.eml")
	ka, kb := DedupeKey(ma, a), DedupeKey(mb, b)
	if ka != kb || ka != MessageIDHash("<dup-7f3a@client.test>") {
		t.Errorf("dedupe keys %s and %s, want both %s", ka, kb, MessageIDHash("<dup-7f3a@client.test>"))
	}
	if DedupeKey(nil, a) == DedupeKey(nil, b) {
		t.Error("the raw hashes of the two copies are equal")
	}
	// Every other fixture has a Message-ID of its own.
	seen := map[string]string{}
	for name, raw := range corpus {
		msg, _ := Parse(raw, Limits{})
		if msg == nil || msg.MessageID == "" {
			t.Errorf("%s has no Message-ID", name)
			continue
		}
		if other, dup := seen[msg.MessageID]; dup && !strings.HasPrefix(name, "dup-") {
			t.Errorf("%s and %s share Message-ID %s", name, other, msg.MessageID)
		}
		seen[msg.MessageID] = name
	}
}

// TestCorpusBrokenAndOversize: the multipart without boundary is a
// ParseError that still tells who sent what; the oversize mail is the only
// fixture above corpusMaxSize, and its attachment is skipped, not fatal,
// under a small attachment limit.
func TestCorpusBrokenAndOversize(t *testing.T) {
	corpus := readCorpus(t)
	msg, err := Parse(corpus["broken-multipart-no-boundary.eml"], Limits{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Reason != "multipart without boundary" {
		t.Fatalf("broken mail: err %v, want a ParseError \"multipart without boundary\"", err)
	}
	if msg == nil || msg.MessageID != "broken-0c4e@client.test" || msg.From.Address != "rita@example.com" || msg.Subject != "Scanner settings" {
		t.Errorf("broken mail: what was read before the failure: %+v", msg)
	}

	for name, raw := range corpus {
		if big := len(raw) > corpusMaxSize; big != (name == "oversize-attachment.eml") {
			t.Errorf("%s: %d bytes against the corpus limit of %d", name, len(raw), corpusMaxSize)
		}
	}
	big := parseCorpusFile(t, corpus, "oversize-attachment.eml")
	if len(big.Attachments) != 1 || big.Attachments[0].Skipped || big.Attachments[0].Size != 48<<10 {
		t.Errorf("oversize mail under the default limits: %+v", big.Attachments)
	}
	small, err := Parse(corpus["oversize-attachment.eml"], Limits{MaxAttachmentSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if a := small.Attachments; len(a) != 1 || !a[0].Skipped || a[0].Data != nil || a[0].Size != 48<<10 || !strings.Contains(a[0].SkipReason, "per-attachment limit") {
		t.Errorf("oversize attachment under a 16 KiB limit: %+v", a)
	}
	if small.Text != "The recording is attached." {
		t.Errorf("oversize mail text %q", small.Text)
	}
}

// TestCorpusStructure: HTML-only mail becomes readable text; nested
// multipart mail gives its plain alternative, its HTML, the inline image
// and the attachment with its RFC 2231 Japanese name.
func TestCorpusStructure(t *testing.T) {
	corpus := readCorpus(t)

	h := parseCorpusFile(t, corpus, "html-only.eml")
	const wantHTMLText = "Hi team,\n\nThe VPN client disconnects every 10 minutes since the update.\n\n" +
		"- Windows 11 & GlobalProtect 6.2\n- Office Wi-Fi and home fibre\n\n" +
		"Log: vpn.log (https://files.example.com/vpn.log)\n\nThanks,\nRita"
	if h.ContentType != "text/html" || h.Text != wantHTMLText || !strings.Contains(h.HTML, "<ul>") {
		t.Errorf("HTML-only mail: type %q, text %q", h.ContentType, h.Text)
	}
	if strings.Contains(h.Text, "color") || strings.Contains(h.Text, "\u00a0") {
		t.Errorf("style sheet or no-break space left in %q", h.Text)
	}

	m := parseCorpusFile(t, corpus, "multipart-alternative-inline-image-attachment.eml")
	if m.Text != "Hello,\n\nplease find the vendor's quote attached. The new model is shown below.\n\nRita" {
		t.Errorf("plain alternative: %q", m.Text)
	}
	if !strings.Contains(m.HTML, `<img src="cid:logo@client.test"`) {
		t.Errorf("HTML alternative: %q", m.HTML)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("attachments: %+v", m.Attachments)
	}
	img, pdf := m.Attachments[0], m.Attachments[1]
	if img.Filename != "laptop.png" || img.ContentType != "image/png" || !img.Inline || img.ContentID != "logo@client.test" || !bytes.HasPrefix(img.Data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("inline image: %+v", img)
	}
	if pdf.Filename != "見積書.pdf" || pdf.ContentType != "application/pdf" || pdf.Inline || !bytes.HasPrefix(pdf.Data, []byte("%PDF-1.4\n")) {
		t.Errorf("attachment: %+v", pdf)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings: %q", m.Warnings)
	}
}

// FuzzCorpus is FuzzParse seeded with the whole corpus (FuzzParse keeps
// its own inline seeds), with the same invariants.
func FuzzCorpus(f *testing.F) {
	corpus := readCorpus(f)
	names := make([]string, 0, len(corpus))
	for name := range corpus {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f.Add(corpus[name])
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
		for name, s := range map[string]string{"Text": msg.Text, "Stripped": msg.Stripped, "Subject": msg.Subject, "From": msg.From.Name, "HTML": msg.HTML} {
			if !utf8.ValidString(s) {
				t.Errorf("%s is not valid UTF-8: %q", name, s)
			}
		}
		if int64(len(msg.Text)) > limits.MaxTextSize {
			t.Errorf("Text of %d bytes", len(msg.Text))
		}
		var kept int64
		for _, a := range msg.Attachments {
			if a.Skipped && a.Data != nil {
				t.Errorf("skipped attachment with data: %+v", a)
			}
			kept += int64(len(a.Data))
		}
		if kept > limits.MaxTotalAttachmentSize {
			t.Errorf("kept %d attachment bytes", kept)
		}
		_, _ = corpusClassifier.Classify(msg)
		_ = ThreadCandidates(msg)
		_, _ = CaseIDFromSubject(msg.Subject)
		_ = title(msg.Subject)
		_ = ParseCommand(msg.Stripped)
		_ = DedupeKey(msg, raw)
	})
}
