package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	kemail "github.com/kanri-itsm/kanri/integrations/email"
	"github.com/kanri-itsm/kanri/store"
)

// corpusDir holds the .eml corpus (see its README.md).
const corpusDir = "../integrations/email/testdata"

// corpusMaxSize is the intake mailbox's max_size: above every fixture but
// oversize-attachment.eml.
const corpusMaxSize = 32 << 10

// corpusFile is what one fixture of the corpus must become.
type corpusFile struct {
	file  string
	msgID string // its Message-ID: the store record's key
	disp  string // the record's disposition
	// reason is the start of the record's reason ("" for none).
	reason string
	// newCase: mail a person wrote that opens an incident, titled title,
	// whose description contains desc.
	newCase     bool
	title, desc string
	// onCase: it lands on the incident en-opener-printer.eml opened.
	onCase bool
	// auto: an automatic sender, who must never get mail from Kanri.
	auto bool
	// failed: it ends in the Failed folder.
	failed bool
}

var corpusFiles = []corpusFile{
	{file: "en-opener-printer.eml", msgID: "<print-2f9c@client.test>", disp: "opened", newCase: true,
		title: "Cannot print to floor 3 printer", desc: "nothing I send to the floor 3 printer comes out"},
	{file: "ja-iso2022jp-7bit.eml", msgID: "<20261126090500.ja7bit@client.test>", disp: "opened", newCase: true,
		title: "会議室のプロジェクターが映りません", desc: "ＨＤＭＩケーブルを替えても「信号なし」と表示されます。"},
	{file: "ja-iso2022jp-qp.eml", msgID: "<20261126091000.jaqp@client.test>", disp: "opened", newCase: true,
		title: "【至急】経費精算システムにログインできない", desc: "エラーコード：E-1024（認証サーバーに接続できません）"},
	{file: "ja-iso2022jp-ms-nec.eml", msgID: "<20261126091500.jams@client.test>", disp: "opened", newCase: true,
		title: "㈱カンリ　ＰＣ交換の件（№12）", desc: "①データのバックアップ\n②旧ＰＣの返却\n③新ＰＣの受け取り\n\n管理番号：№12345"},
	{file: "ja-cp932-nec.eml", msgID: "<20261126092000.cp932@client.test>", disp: "opened", newCase: true,
		title: "№３の複合機が故障しています（㈱髙橋商事）", desc: "①トレイを開けても紙が見えません"},
	{file: "ja-euc-jp.eml", msgID: "<20261126092500.eucjp@client.test>", disp: "opened", newCase: true,
		title: "共有フォルダへのアクセス権限申請", desc: "共有フォルダ「開発資料」への書き込み権限をお願いします。"},
	{file: "ja-outlook-nocharset.eml", msgID: "<TYCPR01MB1234567890ABCDEF@TYCPR01MB1234.jpnprd01.prod.outlook.com>", disp: "opened", newCase: true,
		title: "メールが送信できません", desc: "送信トレイに残ったままになります。"},
	{file: "ja-nocharset-sjis-raw-header.eml", msgID: "<20261126093500.rawsjis@webmail.client.test>", disp: "opened", newCase: true,
		title: "パスワードの再設定をお願いします", desc: "再設定の手続きを教えてください。"},
	{file: "ja-html-only-meta-shiftjis.eml", msgID: "<20261126094200.htmlsjis@webmail.client.test>", disp: "opened", newCase: true,
		title: "ＶＰＮに接続できません", desc: "自宅からＶＰＮに接続できません。\n「認証に失敗しました」と表示されます。"},
	{file: "html-only.eml", msgID: "<html-only-8d2e@client.test>", disp: "opened", newCase: true,
		title: "VPN disconnects every 10 minutes", desc: "- Windows 11 & GlobalProtect 6.2"},
	{file: "multipart-alternative-inline-image-attachment.eml", msgID: "<multi-5b7a@client.test>", disp: "opened", newCase: true,
		title: "Quote for replacement laptops", desc: "Attachments: laptop.png, 見積書.pdf"},
	{file: "dup-message-id-1.eml", msgID: "<dup-7f3a@client.test>", disp: "opened", newCase: true,
		title: "Shared drive is full", desc: "The S: drive reports 0 bytes free."},
	// The second copy shares the first one's record.
	{file: "dup-message-id-2.eml", msgID: "<dup-7f3a@client.test>", disp: "opened"},

	{file: "reply-relay-rewritten-references.eml", disp: "reply", onCase: true,
		msgID: "<0102018f3c9a7b2e-6f1d2c3b-4a59-4e7f-9d1c-0a1b2c3d4e5f-000000@eu-west-1.amazonses.com>"},
	{file: "reply-relay-rewritten-subject-tag.eml", disp: "reply", onCase: true,
		msgID: "<0102018f3ca1c0de-7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d-000000@eu-west-1.amazonses.com>"},

	{file: "dsn-bounce.eml", msgID: "<20261126095002.8C1A2B3C4D@mx.example.com>", disp: "ignored", reason: "delivery-status report", auto: true},
	{file: "dsn-exchange-ndr-on-case.eml", msgID: "<5c7e0a2f-91b3-4d6e-8a10-2b3c4d5e6f70@EXCH01.corp.example.com>", disp: "note", reason: "delivery-status report", onCase: true, auto: true},
	{file: "ooo-auto-submitted.eml", msgID: "<ooo-a1c3@client.test>", disp: "note", reason: "auto-submitted: auto-replied", onCase: true, auto: true},
	{file: "ooo-exchange-suppress.eml", msgID: "<a8f3e1d2c4b54f6e9a7b@EXCH01.corp.example.com>", disp: "ignored", reason: "x-auto-response-suppress: all", auto: true},
	{file: "ooo-precedence-auto-reply.eml", msgID: "<vacation-77e1@example.com>", disp: "ignored", reason: "precedence: auto_reply", auto: true},
	{file: "list-mailing-list.eml", msgID: "<list-3e9d@example.com>", disp: "ignored", reason: "list mail: List-Id", auto: true},
	{file: "bulk-newsletter.eml", msgID: "<nl-2026-11.9a8b7c@mailer.vendor.test>", disp: "ignored", reason: "precedence: bulk", auto: true},
	{file: "own-echo-x-kanri-case.eml", msgID: "<{{CASE}}.1.5f0c2a9e8d7b6a41@kanri.test>", disp: "ignored", reason: "own mail: X-Kanri-Case header", auto: true},
	{file: "own-echo-msgid-only.eml", msgID: "<INC-000777.3.0123456789abcdef@kanri.test>", disp: "ignored", reason: "own message-id", auto: true},

	{file: "broken-multipart-no-boundary.eml", msgID: "<broken-0c4e@client.test>", disp: "failed", reason: "email: broken message: multipart without boundary", failed: true},
	{file: "oversize-attachment.eml", msgID: "<oversize-91d0@client.test>", disp: "failed", reason: "email: message of ", failed: true},
}

// envelopeSink is an SMTP server that keeps the envelope (MAIL FROM, RCPT
// TO) and the header of every mail Kanri sends.
type envelopeSink struct {
	addr string
	mu   sync.Mutex
	got  []sentEnvelope
}

type sentEnvelope struct {
	from    string
	rcpts   []string
	subject string
	header  mail.Header
}

func startEnvelopeSink(t *testing.T) *envelopeSink {
	t.Helper()
	s := &envelopeSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &envelopeSession{sink: s}, nil }))
	srv.Domain = "sink.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *envelopeSink) sent() []sentEnvelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

type envelopeSession struct {
	sink  *envelopeSink
	from  string
	rcpts []string
}

func (s *envelopeSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *envelopeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *envelopeSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *envelopeSession) Logout() error { return nil }
func (s *envelopeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	s.sink.mu.Lock()
	s.sink.got = append(s.sink.got, sentEnvelope{from: s.from, rcpts: slices.Clone(s.rcpts), subject: subject, header: msg.Header})
	s.sink.mu.Unlock()
	return nil
}

// corpusFolder lists the Message-IDs in an IMAP folder of the support
// mailbox, read over IMAP as a mail client would.
func corpusFolder(t *testing.T, ms *mailServers, folder string) []string {
	t.Helper()
	c, err := imapclient.DialInsecure(ms.imap, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("support@example.com", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	var ids []string
	if sel.NumMessages > 0 {
		bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil {
			t.Fatalf("fetch %s: %v", folder, err)
		}
		for _, b := range bufs {
			ids = append(ids, kemail.NormalizeMessageID(b.Envelope.MessageID))
		}
	}
	_ = c.Logout().Wait()
	sort.Strings(ids)
	return ids
}

func corpusIncidents(k *kanri) map[string]bool {
	k.t.Helper()
	out := map[string]bool{}
	for _, it := range k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any) {
		out[it.(map[string]any)["id"].(string)] = true
	}
	return out
}

// TestEmailCorpus delivers every file of the .eml corpus to the intake
// mailbox of a running Kanri, over real IMAP and SMTP servers, and checks
// that each is accounted for: its record's disposition and reason, one
// incident per mail a person wrote (the duplicate included once), replies
// and automatic mail on the right case, broken and oversize mail in the
// Failed folder, and no mail to any automatic sender.
func TestEmailCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	ctx := context.Background()
	ms := startMailServers(t)
	sink := startEnvelopeSink(t)
	cfg := config + fmt.Sprintf(`
email:
  from: "Kanri <kanri@kanri.test>"
  domain: kanri.test
  poll_interval: 200ms
  smtp: {addr: "%s", starttls: "off"}
  mailboxes:
    - name: support
      imap: {addr: "%s", username: support@example.com, password: pw}
      max_size: %d
      route: {service: email, impact: medium, urgency: high}
`, sink.addr, ms.imap, corpusMaxSize)
	k := startConfig(t, cfg, filepath.Join(t.TempDir(), "kanri.db"), "")

	// Every fixture is listed here, and every one listed exists.
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in %s: %v", corpusDir, err)
	}
	listed := map[string]bool{}
	for _, f := range corpusFiles {
		listed[f.file] = true
	}
	for _, p := range paths {
		if !listed[filepath.Base(p)] {
			t.Errorf("%s has no expectation in corpusFiles", filepath.Base(p))
		}
	}
	read := func(name, caseID string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), "{{CASE}}", caseID)
	}
	record := func(msgID string) (store.MailRecord, error) {
		return k.app.Store().Mail(ctx, kemail.MessageIDHash(msgID))
	}
	before := corpusIncidents(k)

	// The opener first: the case the replies, the bounce, the
	// out-of-office reply and the echo thread onto.
	if corpusFiles[0].file != "en-opener-printer.eml" {
		t.Fatal("corpusFiles must start with the opener")
	}
	ms.deliver(read("en-opener-printer.eml", ""))
	var opener store.MailRecord
	deadline := time.Now().Add(30 * time.Second)
	for {
		opener, err = record("<print-2f9c@client.test>")
		if err == nil && opener.Disposition == "opened" && opener.CaseID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the opener opened no case: %+v (%v)", opener, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	caseID := opener.CaseID
	t.Logf("en-opener-printer.eml opened %s", caseID)

	// Then the rest in the listed order, both copies of the duplicate
	// included, with {{CASE}} filled in.
	delivered := 1
	for _, f := range corpusFiles[1:] {
		ms.deliver(read(f.file, caseID))
		delivered++
	}
	deadline = time.Now().Add(60 * time.Second)
	for ms.count("INBOX") != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := ms.count("INBOX"); n != 0 {
		t.Fatalf("%d mails left in the inbox", n)
	}

	// Each file's record.
	opened := map[string]string{} // case id -> file
	for _, f := range corpusFiles {
		id := strings.ReplaceAll(f.msgID, "{{CASE}}", caseID)
		rec, err := record(id)
		if err != nil {
			t.Errorf("%s: no record for %s: %v", f.file, id, err)
			continue
		}
		if rec.Disposition != f.disp {
			t.Errorf("%s: disposition %q (%s), want %q", f.file, rec.Disposition, rec.Reason, f.disp)
		}
		switch f.disp {
		case "ignored", "note", "failed":
			if rec.Reason == "" || !strings.HasPrefix(rec.Reason, f.reason) {
				t.Errorf("%s: reason %q, want one starting %q", f.file, rec.Reason, f.reason)
			}
		default:
			if rec.Reason != "" {
				t.Errorf("%s: reason %q, want none", f.file, rec.Reason)
			}
		}
		switch {
		case f.onCase && rec.CaseID != caseID:
			t.Errorf("%s: on case %q, want %s", f.file, rec.CaseID, caseID)
		case f.newCase:
			if rec.CaseID == "" || rec.CaseID == caseID && f.file != "en-opener-printer.eml" {
				t.Errorf("%s: opened case %q", f.file, rec.CaseID)
			} else if other, dup := opened[rec.CaseID]; dup {
				t.Errorf("%s and %s opened the same case %s", f.file, other, rec.CaseID)
			}
			opened[rec.CaseID] = f.file
		case !f.onCase && f.file != "dup-message-id-2.eml" && rec.CaseID != "":
			t.Errorf("%s: recorded on case %s, want none", f.file, rec.CaseID)
		}
		if f.file == "oversize-attachment.eml" && !strings.Contains(rec.Reason, fmt.Sprintf("exceeds the limit of %d bytes", corpusMaxSize)) {
			t.Errorf("oversize: reason %q", rec.Reason)
		}
	}

	// The duplicate made one record: of the two copies' UIDs, only the
	// first is on record, and one case.
	dups := 0
	recs, err := k.app.Store().MailByDisposition(ctx, "opened", 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.MessageID == "dup-7f3a@client.test" {
			dups++
		}
	}
	if dups != 1 {
		t.Errorf("the duplicate made %d records", dups)
	}

	// One incident per mail a person wrote, titled by its decoded subject.
	humans := 0
	for _, f := range corpusFiles {
		if f.newCase {
			humans++
		}
	}
	var after map[string]bool
	deadline = time.Now().Add(20 * time.Second)
	for {
		after = corpusIncidents(k)
		if len(after)-len(before) >= humans || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(after)-len(before) != humans || len(opened) != humans {
		t.Errorf("%d incidents opened (%d recorded), want one per human new mail: %d", len(after)-len(before), len(opened), humans)
	}
	for id := range opened {
		if !after[id] || before[id] {
			t.Errorf("%s (from %s) is not a new incident", id, opened[id])
		}
	}
	for _, f := range corpusFiles {
		if !f.newCase {
			continue
		}
		rec, _ := record(f.msgID)
		if rec.CaseID == "" {
			continue
		}
		inc := k.must(200, "GET", "/api/v1/incidents/"+rec.CaseID, "admin-token", nil)
		if inc["title"] != f.title || inc["caller"] != "rita" {
			t.Errorf("%s: incident %s titled %q by %v, want %q by rita", f.file, rec.CaseID, inc["title"], inc["caller"], f.title)
		}
		if d, _ := inc["description"].(string); !strings.Contains(d, f.desc) {
			t.Errorf("%s: description %q lacks %q", f.file, d, f.desc)
		}
	}
	if rec, _ := record("<multi-5b7a@client.test>"); rec.CaseID != "" {
		atts, err := k.app.Store().Attachments(ctx, rec.CaseID)
		var names []string
		for _, a := range atts {
			names = append(names, a.Filename)
		}
		sort.Strings(names)
		if err != nil || !slices.Equal(names, []string{"laptop.png", "見積書.pdf"}) {
			t.Errorf("attachments kept for %s: %q (%v)", rec.CaseID, names, err)
		}
	}

	// On the opener's case: the two relayed replies as the caller's
	// comments; the non-delivery report and the out-of-office reply as
	// internal notes. Kanri's own echo is recorded and dropped.
	waitHistory(t, k, caseID, func(h []map[string]any) bool { return countAction(h, "comment") == 4 })
	var public, internal []string
	for _, e := range k.history("incidents", caseID) {
		if e["action"] != "comment" {
			continue
		}
		d := e["detail"].(map[string]any)
		body, _ := d["body"].(string)
		if d["internal"] == true {
			internal = append(internal, body)
		} else {
			public = append(public, body)
			if e["actor"] != "rita" {
				t.Errorf("reply on %s by %v, want rita", caseID, e["actor"])
			}
		}
	}
	sort.Strings(public)
	if want := []string{"I restarted it; still offline.", `The printer now shows "offline" on the panel.`}; !slices.Equal(public, want) {
		t.Errorf("replies on %s: %q, want %q", caseID, public, want)
	}
	if len(internal) != 2 {
		t.Errorf("internal notes on %s: %q, want the bounce and the out-of-office reply", caseID, internal)
	}

	// Broken and oversize mail in Failed, the rest in Processed.
	var wantFailed []string
	for _, f := range corpusFiles {
		if f.failed {
			wantFailed = append(wantFailed, kemail.NormalizeMessageID(f.msgID))
		}
	}
	sort.Strings(wantFailed)
	if got := corpusFolder(t, ms, "Failed"); !slices.Equal(got, wantFailed) {
		t.Errorf("Failed folder holds %q, want %q", got, wantFailed)
	}
	if n := ms.count("Processed"); n != delivered-len(wantFailed) {
		t.Errorf("Processed folder holds %d mails, want %d", n, delivered-len(wantFailed))
	}

	// Mail went out only as one acknowledgement per opened incident, to
	// the caller; none to an automatic sender (bounce, out-of-office,
	// list, Kanri itself).
	autoSenders := map[string]string{}
	for _, f := range corpusFiles {
		if !f.auto {
			continue
		}
		msg, err := kemail.Parse([]byte(read(f.file, caseID)), kemail.Limits{})
		if err != nil || msg.From.Address == "" {
			t.Fatalf("%s: %v", f.file, err)
		}
		autoSenders[strings.ToLower(msg.From.Address)] = f.file
	}
	deadline = time.Now().Add(20 * time.Second)
	for len(sink.sent()) < humans && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // the mailer polls every second: give it the chance to misbehave
	sent := sink.sent()
	acked := map[string]int{}
	for _, s := range sent {
		for _, r := range s.rcpts {
			r = strings.ToLower(r)
			if file, ok := autoSenders[r]; ok && r != "rita@example.com" {
				t.Errorf("mail %q sent to %s, the automatic sender of %s", s.subject, r, file)
			}
			if r != "rita@example.com" {
				t.Errorf("mail %q sent to %s, who wrote no mail", s.subject, r)
			}
		}
		if s.header.Get("Auto-Submitted") != "auto-generated" || !strings.Contains(s.subject, "] received: ") {
			t.Errorf("unexpected mail: %q %v", s.subject, s.header)
			continue
		}
		if id, ok := kemail.CaseIDFromSubject(s.subject); ok {
			acked[id]++
		}
	}
	if len(sent) != humans {
		t.Errorf("%d mails sent, want one acknowledgement per human new mail (%d)", len(sent), humans)
	}
	for id, file := range opened {
		if acked[id] != 1 {
			t.Errorf("%s (from %s) was acknowledged %d times", id, file, acked[id])
		}
	}
	// rita wrote both human and automatic mail (her out-of-office reply):
	// she got exactly the acknowledgements above, nothing for the reply.
	if file, ok := autoSenders["rita@example.com"]; !ok || file != "ooo-auto-submitted.eml" {
		t.Errorf("automatic senders: %v", autoSenders)
	}
	t.Logf("%d mails delivered (%d files), %d incidents opened, %d in Failed, %d acknowledgements sent; automatic senders %d",
		delivered, len(corpusFiles), len(opened), len(wantFailed), len(sent), len(autoSenders))
}
