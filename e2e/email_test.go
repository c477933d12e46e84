package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/japanese"

	kemail "github.com/kanri-itsm/kanri/integrations/email"
)

// mailServers are a real IMAP server (go-imap's in-memory backend) holding
// the support mailbox, and a real SMTP server that keeps what Kanri sends.
type mailServers struct {
	t    *testing.T
	user *imapmemserver.User
	// complaints is a second mailbox, routed to complaints.
	complaints *imapmemserver.User
	imap       string
	smtp       string

	mu   sync.Mutex
	sent []*mail.Message
}

func startMailServers(t *testing.T) *mailServers {
	t.Helper()
	m := &mailServers{t: t}
	mem := imapmemserver.New()
	m.user = imapmemserver.NewUser("support@example.com", "pw")
	if err := m.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(m.user)
	m.complaints = imapmemserver.NewUser("complaints@example.com", "pw")
	if err := m.complaints.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(m.complaints)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.imap = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	sm := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{m: m}, nil }))
	sm.Domain = "sink.test"
	sm.ErrorLog = log.New(io.Discard, "", 0)
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.smtp = sl.Addr().String()
	go sm.Serve(sl)
	t.Cleanup(func() { sm.Close() })
	return m
}

type sinkSession struct{ m *mailServers }

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Reset()                               {}
func (s *sinkSession) Logout() error                        { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.sent = append(s.m.sent, msg)
	s.m.mu.Unlock()
	return nil
}

// deliver puts a mail in the support INBOX.
func (m *mailServers) deliver(raw string) {
	m.t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	if _, err := m.user.Append("INBOX", strings.NewReader(raw), &imap.AppendOptions{}); err != nil {
		m.t.Fatal(err)
	}
}

func (m *mailServers) count(folder string) int {
	st, err := m.user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return -1
	}
	return int(*st.NumMessages)
}

// waitSent waits for a sent mail whose subject contains s.
func (m *mailServers) waitSent(s string) *mail.Message {
	m.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		for _, msg := range m.sent {
			if subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); strings.Contains(subj, s) {
				m.mu.Unlock()
				return msg
			}
		}
		m.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("no mail with %q in its subject was sent", s)
	return nil
}

// sentTo lists the mail sent to an address.
func (m *mailServers) sentTo(addr string) []*mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*mail.Message
	for _, msg := range m.sent {
		if strings.Contains(msg.Header.Get("To"), addr) {
			out = append(out, msg)
		}
	}
	return out
}

func (m *mailServers) sentCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func (m *mailServers) config() string {
	return config + fmt.Sprintf(`
email:
  from: "Kanri <kanri@kanri.test>"
  domain: kanri.test
  base_url: http://kanri.invalid
  poll_interval: 200ms
  smtp: {addr: "%s", starttls: "off"}
  mailboxes:
    - name: support
      imap: {addr: "%s", username: support@example.com, password: pw}
      route: {service: email, impact: medium, urgency: high}
    - name: complaints
      imap: {addr: "%s", username: complaints@example.com, password: pw}
      route: {kind: complaints, service: email}
`, m.smtp, m.imap, m.imap)
}

// TestEmail: mail opens an incident, the caller's reply lands on it, the
// resolution notice goes out threaded, and the caller's "confirm" closes
// it, in English and in Japanese over real IMAP and SMTP servers. A
// duplicate, an auto-reply, a bounce, a stranger and broken MIME make no
// extra case and no automatic reply, and each is on the record.
func TestEmail(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	ms := startMailServers(t)
	k := startConfig(t, ms.config(), filepath.Join(t.TempDir(), "kanri.db"), "")

	t.Run("complaint by mail", func(t *testing.T) {
		raw := strings.ReplaceAll(`From: Rita Requester <rita@example.com>
To: complaints@example.com
Subject: Nobody answered my call
Message-ID: <c1@client.test>

I waited an hour on the phone.
`, "\n", "\r\n")
		for range 2 { // delivered twice: one complaint
			if _, err := ms.complaints.Append("INBOX", strings.NewReader(raw), &imap.AppendOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Both deliveries must have been handled (moved out of the INBOX)
		// before the complaints are counted: the second one could
		// otherwise open a duplicate after the check.
		handled := func() bool {
			st, err := ms.complaints.Status("INBOX", &imap.StatusOptions{NumMessages: true})
			return err == nil && *st.NumMessages == 0
		}
		deadline := time.Now().Add(20 * time.Second)
		var found []map[string]any
		for time.Now().Before(deadline) {
			done := handled() // before the list, so that the list sees what they made
			found = nil
			for _, c := range k.must(200, "GET", "/api/v1/complaints", "alice-token", nil)["items"].([]any) {
				if c := c.(map[string]any); c["title"] == "Nobody answered my call" {
					found = append(found, c)
				}
			}
			if len(found) > 0 && done {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !handled() {
			t.Fatal("the complaints mailbox still holds mail after 20s")
		}
		if len(found) != 1 || found[0]["complainant"] != "rita" || found[0]["source"] != "email" || found[0]["status"] != "received" || found[0]["service"] != "email" {
			t.Fatalf("complaints from the mail: %v", found)
		}
	})

	t.Run("English", func(t *testing.T) {
		ms.deliver(`From: Rita Requester <rita@example.com>
To: support@example.com
Subject: Printer on fire
Message-ID: <m1@client.test>
Date: Thu, 26 Nov 2026 09:00:00 +0000
Content-Type: text/plain; charset=utf-8

The printer on floor 3 is on fire.
`)
		ack := ms.waitSent("received: Printer on fire")
		id := caseIn(t, ack.Header.Get("Subject"))
		if ack.Header.Get("In-Reply-To") != "<m1@client.test>" || ack.Header.Get("Auto-Submitted") != "auto-generated" ||
			!strings.Contains(ack.Header.Get("To"), "rita@example.com") || ack.Header.Get("Message-ID") == "" {
			t.Fatalf("acknowledgement headers: %v", ack.Header)
		}
		inc := k.must(200, "GET", "/api/v1/incidents/"+id, "alice-token", nil)
		if inc["title"] != "Printer on fire" || inc["caller"] != "rita" || inc["priority"] != "P2" {
			t.Fatalf("incident from mail: %v", inc)
		}

		reply := fmt.Sprintf(`From: rita@example.com
To: support@example.com
Subject: Re: %s
Message-ID: <m2@client.test>
In-Reply-To: %s
References: <m1@client.test> %s
Content-Type: text/plain; charset=utf-8

It is smoking now.

On Thu, 26 Nov 2026, Kanri wrote:
> We have logged your incident
`, ack.Header.Get("Subject"), ack.Header.Get("Message-ID"), ack.Header.Get("Message-ID"))
		ms.deliver(reply)
		ms.deliver(reply) // the same mail twice: one comment
		waitHistory(t, k, id, func(h []map[string]any) bool { return countAction(h, "comment") == 1 })
		h := k.history("incidents", id)
		c := lastAction(h, "comment")
		if c["actor"] != "rita" || c["detail"].(map[string]any)["body"] != "It is smoking now." {
			t.Fatalf("reply on the case: %v", c)
		}

		// A stranger's mail on the case is an internal note; an
		// out-of-office reply is a note and answers nothing.
		ms.deliver(fmt.Sprintf(`From: eve@elsewhere.test
Subject: Re: [%s] fire
Message-ID: <m3@elsewhere.test>

I saw it too.
`, id))
		ms.deliver(fmt.Sprintf(`From: rita@example.com
Subject: Automatic reply: [%s] received
Message-ID: <m4@client.test>
Auto-Submitted: auto-replied

I am out of the office.
`, id))
		waitHistory(t, k, id, func(h []map[string]any) bool { return countAction(h, "comment") == 3 })
		notes := 0
		for _, e := range k.history("incidents", id) {
			if e["action"] == "comment" && e["detail"].(map[string]any)["internal"] == true {
				notes++
			}
		}
		if notes != 2 {
			t.Fatalf("internal notes: %d, want 2: %v", notes, k.history("incidents", id))
		}

		k.act("incidents", id, "alice-token", map[string]any{"action": "start"})
		k.act("incidents", id, "alice-token", map[string]any{"action": "resolve", "resolution": "Replaced the fuser."})
		notice := ms.waitSent("resolved: Printer on fire")
		if notice.Header.Get("In-Reply-To") != "<m1@client.test>" || !strings.Contains(notice.Header.Get("References"), "<m1@client.test>") {
			t.Fatalf("resolution notice is not threaded: %v", notice.Header)
		}
		ms.deliver(fmt.Sprintf(`From: Rita <RITA@example.com>
Subject: Re: %s
Message-ID: <m5@client.test>
In-Reply-To: %s

confirm

> Your incident is resolved
`, notice.Header.Get("Subject"), notice.Header.Get("Message-ID")))
		k.eventually("incidents", id, 20*time.Second, "closed by the caller's mail", func(m map[string]any) bool { return m["status"] == "closed" })
		if e := lastAction(k.history("incidents", id), "confirm"); e["actor"] != "rita" {
			t.Fatalf("confirm: %v", e)
		}
	})

	t.Run("Japanese", func(t *testing.T) {
		enc := func(s string) string {
			b, err := japanese.ISO2022JP.NewEncoder().Bytes([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		subject := "=?ISO-2022-JP?B?" + base64.StdEncoding.EncodeToString([]byte(enc("プリンターが動きません"))) + "?="
		ms.deliver(`From: =?ISO-2022-JP?B?` + base64.StdEncoding.EncodeToString([]byte(enc("リタ"))) + `?= <rita@example.com>
To: support@example.com
Subject: ` + subject + `
Message-ID: <j1@client.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

` + enc("三階のプリンターが紙詰まりです。") + `
`)
		ack := ms.waitSent("received: プリンターが動きません")
		id := caseIn(t, ack.Header.Get("Subject"))
		inc := k.must(200, "GET", "/api/v1/incidents/"+id, "alice-token", nil)
		if inc["title"] != "プリンターが動きません" || !strings.Contains(inc["description"].(string), "紙詰まり") {
			t.Fatalf("Japanese incident: %v", inc)
		}
		k.act("incidents", id, "alice-token", map[string]any{"action": "resolve", "resolution": "紙を取り除きました"})
		notice := ms.waitSent("resolved: プリンターが動きません")
		ms.deliver(`From: rita@example.com
Subject: Re: ` + subject + `
Message-ID: <j2@client.test>
In-Reply-To: ` + notice.Header.Get("Message-ID") + `
Content-Type: text/plain; charset=ISO-2022-JP

` + enc("確認しました") + `
`)
		k.eventually("incidents", id, 20*time.Second, "closed by 確認", func(m map[string]any) bool { return m["status"] == "closed" })
	})

	t.Run("approval by decision link", func(t *testing.T) {
		chg := k.must(201, "POST", "/api/v1/changes", "alice-token", map[string]any{"title": "Rotate the TLS certificate",
			"type": "normal", "services": []string{"email"}, "backout_plan": "restore the old certificate"})["id"].(string)
		k.act("changes", chg, "alice-token", map[string]any{"action": "assess", "risk": "low", "impact": "none",
			"benefit": "no expiry", "feasibility": "routine", "cost": "1h", "security": "better"})
		k.act("changes", chg, "alice-token", map[string]any{"action": "submit"})
		link := func(to, verb string) string {
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				for _, msg := range ms.sentTo(to) {
					if !strings.Contains(msg.Header.Get("Subject"), chg) {
						continue
					}
					raw, _ := io.ReadAll(msg.Body)
					var hdr strings.Builder
					for k, vs := range msg.Header {
						for _, v := range vs {
							hdr.WriteString(k + ": " + v + "\r\n")
						}
					}
					parsed, err := kemail.Parse([]byte(hdr.String()+"\r\n"+string(raw)), kemail.Limits{})
					if err != nil {
						t.Fatal(err)
					}
					text := parsed.Text
					if i := strings.Index(text, verb+": http://kanri.invalid/mail/decide?t="); i >= 0 {
						l := strings.Fields(text[i+len(verb)+2:])[0]
						return strings.Replace(l, "http://kanri.invalid", k.base, 1)
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Fatalf("no %s link to %s for %s", verb, to, chg)
			return ""
		}
		approve1 := link("cab1@example.com", "Approve")
		page := k.do("GET", strings.TrimPrefix(approve1, k.base), "", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), "Approve "+chg) {
			t.Fatalf("link page: %d %s", page.Status, page.Body)
		}
		if c := k.must(200, "GET", "/api/v1/changes/"+chg, "alice-token", nil); len(c["approvals"].([]any)) != 0 {
			t.Fatalf("a GET of the link decided: %v", c["approvals"])
		}
		post := func(l string) int {
			u, _ := url.Parse(l)
			res, err := http.PostForm(k.base+"/mail/decide", url.Values{"t": {u.Query().Get("t")}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		forged := strings.Replace(approve1, "t=", "t=x", 1)
		if st := post(forged); st != 400 {
			t.Fatalf("a forged link: %d", st)
		}
		if st := post(approve1); st != 200 {
			t.Fatalf("cab1's approve link: %d", st)
		}
		if st := post(approve1); st != 409 {
			t.Fatalf("a link used twice: %d", st)
		}
		if st := post(link("cab2@example.com", "Approve")); st != 200 {
			t.Fatalf("cab2's approve link: %d", st)
		}
		c := k.must(200, "GET", "/api/v1/changes/"+chg, "alice-token", nil)
		if c["status"] != "approved" {
			t.Fatalf("after two link approvals: %v", c)
		}
		for _, a := range c["approvals"].([]any) {
			if a.(map[string]any)["comment"] != "decided by email link" {
				t.Fatalf("approval: %v", a)
			}
		}
		if e := lastAction(k.history("changes", chg), "approve"); e["actor"] != "cab2" || e["detail"].(map[string]any)["source"] != "email" {
			t.Fatalf("history: %v", e)
		} // The requester hears of the approval (and nothing else is in flight
		// for the next subtest's count).
		ms.waitSent("your change is approved")
	})

	t.Run("loops, bounces and broken mail", func(t *testing.T) {
		before := k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any)
		sentBefore := ms.sentCount()
		ms.deliver(`From: MAILER-DAEMON@mx.example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <b1@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Delivery failed.
--b
Content-Type: message/delivery-status

Final-Recipient: rfc822; nobody@example.com
Status: 5.1.1
--b--
`)
		ms.deliver(`From: rita@example.com
Subject: Weekly digest
Message-ID: <d1@list.example.com>
Precedence: bulk
List-Id: <digest.example.com>

News.
`)
		ms.deliver(`From: rita@example.com
Subject: Broken
Message-ID: <x1@client.test>
MIME-Version: 1.0
Content-Type: multipart/mixed

no boundary at all
`)
		ms.deliver(`From: mallory@unknown.test
Subject: Please open a case for me
Message-ID: <u1@unknown.test>

Hello.
`)
		deadline := time.Now().Add(20 * time.Second)
		for ms.count("INBOX") != 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if n := ms.count("INBOX"); n != 0 {
			t.Fatalf("%d mails left in the inbox", n)
		}
		if n := ms.count("Failed"); n != 1 {
			t.Fatalf("%d mails in Failed, want the broken one", n)
		}
		after := k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any)
		if len(after) != len(before) {
			t.Fatalf("loops, bounces or broken mail opened cases: %d before, %d after", len(before), len(after))
		}
		time.Sleep(time.Second) // the mailer polls every second: give it the chance to misbehave
		if ms.sentCount() != sentBefore {
			t.Fatalf("automatic mail was answered: %d mails sent, %d before", ms.sentCount(), sentBefore)
		}
		for _, who := range []string{"MAILER-DAEMON@mx.example.com", "mallory@unknown.test"} {
			if n := len(ms.sentTo(who)); n != 0 {
				t.Fatalf("%d mails sent to %s", n, who)
			}
		}
		for key, want := range map[string]string{"<b1@mx.example.com>": "ignored", "<d1@list.example.com>": "ignored", "<x1@client.test>": "failed", "<u1@unknown.test>": "ignored"} {
			rec, err := k.app.Store().Mail(context.Background(), kemail.MessageIDHash(key))
			if err != nil || rec.Disposition != want || rec.Reason == "" {
				t.Errorf("%s: recorded %+v (%v), want %s with a reason", key, rec, err, want)
			}
		}
	})
}

func caseIn(t *testing.T, subject string) string {
	t.Helper()
	dec, _ := new(mime.WordDecoder).DecodeHeader(subject)
	i := strings.Index(dec, "[INC-")
	if i < 0 {
		t.Fatalf("no case tag in %q", dec)
	}
	return dec[i+1 : i+11]
}

func waitHistory(t *testing.T, k *kanri, id string, cond func([]map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond(k.history("incidents", id)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: history never got there: %v", id, actions(k.history("incidents", id)))
}

func countAction(h []map[string]any, action string) int {
	n := 0
	for _, e := range h {
		if e["action"] == action {
			n++
		}
	}
	return n
}

func lastAction(h []map[string]any, action string) map[string]any {
	var out map[string]any
	for _, e := range h {
		if e["action"] == action {
			out = e
		}
	}
	return out
}
