package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"github.com/kanri-itsm/kanri/policy"
)

// Email is the scenario of incidents opened by mail.
const Email = "email"

const (
	// emailPoll is the mailbox's poll interval, as in the end-to-end
	// test; IMAP IDLE usually reports new mail before it.
	emailPoll = 200 * time.Millisecond
	// emailWatch is how often the benchmark lists the incidents to see
	// which mail has made its case: the resolution of the latencies.
	emailWatch = 20 * time.Millisecond
	// emailStall is how long the benchmark waits for the next case or the
	// next handled mail before it counts what is missing as lost.
	emailStall = time.Minute
	// defaultDuplicateEvery: every tenth mail appended re-delivers the one
	// before it, with the same Message-ID.
	defaultDuplicateEvery = 10

	mailboxUser     = "support@example.com"
	mailboxPassword = "bench"
	warmupSubject   = "Bench mail warm-up"
	mailSubject     = "Bench mail %06d: printer on floor 3 offline"
)

// mailServers are an IMAP server with the support mailbox (go-imap's
// in-memory backend) and an SMTP server that counts and drops what Kanri
// sends, both in this process.
type mailServers struct {
	user       *imapmemserver.User
	imap, smtp string
	imapSrv    *imapserver.Server
	smtpSrv    *smtp.Server
	sent       atomic.Int64
}

func startMailServers() (*mailServers, error) {
	m := &mailServers{user: imapmemserver.NewUser(mailboxUser, mailboxPassword)}
	if err := m.user.Create("INBOX", nil); err != nil {
		return nil, fmt.Errorf("create the INBOX: %w", err)
	}
	mem := imapmemserver.New()
	mem.AddUser(m.user)
	m.imapSrv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	il, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for IMAP: %w", err)
	}
	m.imap = il.Addr().String()
	go func() { _ = m.imapSrv.Serve(il) }()

	m.smtpSrv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return sinkSession{m}, nil }))
	m.smtpSrv.Domain = "sink.test"
	m.smtpSrv.ErrorLog = log.New(io.Discard, "", 0)
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.imapSrv.Close()
		return nil, fmt.Errorf("listen for SMTP: %w", err)
	}
	m.smtp = sl.Addr().String()
	go func() { _ = m.smtpSrv.Serve(sl) }()
	return m, nil
}

func (m *mailServers) close() {
	m.imapSrv.Close()
	m.smtpSrv.Close()
}

// sinkSession counts each mail it is given and keeps none.
type sinkSession struct{ m *mailServers }

func (sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (sinkSession) Reset()                               {}
func (sinkSession) Logout() error                        { return nil }
func (s sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.m.sent.Add(1)
	return nil
}

func (m *mailServers) deliver(raw string) error {
	_, err := m.user.Append("INBOX", strings.NewReader(raw), &imap.AppendOptions{})
	return err
}

// count is how many mails a folder holds; -1 when it cannot be read.
func (m *mailServers) count(folder string) int {
	st, err := m.user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil || st.NumMessages == nil {
		return -1
	}
	return int(*st.NumMessages)
}

// emailConfig is the built-in configuration with the support mailbox.
func emailConfig(m *mailServers, service string) *policy.Config {
	cfg := policy.Default()
	cfg.Email = policy.Email{
		From: "Kanri <kanri@kanri.test>", Domain: "kanri.test", PollInterval: policy.Duration(emailPoll),
		SMTP: policy.SMTP{Addr: m.smtp, StartTLS: "off"},
		Mailboxes: []policy.EmailMailbox{{
			Name: "support", IMAP: policy.IMAP{Addr: m.imap, Username: mailboxUser, Password: mailboxPassword},
			Folder: "INBOX", ProcessedFolder: "Processed", FailedFolder: "Failed",
			Route: policy.EmailRoute{Kind: "incidents", Service: service, Impact: "medium", Urgency: "medium"},
		}},
	}
	return cfg
}

// benchMail is a plain mail from a user of the configuration, CRLF as on
// the wire.
func benchMail(messageID, from, subject string) string {
	return strings.ReplaceAll(fmt.Sprintf(`From: %s
To: %s
Subject: %s
Message-ID: <%s>
Date: %s
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Since this morning the printer on floor 3 shows offline for everyone.
Restarting it did not help.
`, from, mailboxUser, subject, messageID, time.Now().UTC().Format(time.RFC1123Z)), "\n", "\r\n")
}

// mailPlan says which distinct mail each appended mail is: every every-th
// re-delivers the one before it. It returns the plan and the number of
// distinct mails.
func mailPlan(n, every int) ([]int, int) {
	plan := make([]int, n)
	distinct := 0
	for i := range plan {
		if every > 0 && i%every == every-1 && distinct > 0 {
			plan[i] = distinct - 1
			continue
		}
		plan[i] = distinct
		distinct++
	}
	return plan, distinct
}

// listedIncident is the part of a listed incident the email scenario reads.
type listedIncident struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// incidentPages lists the incidents newest first, limit a page, until
// more says stop or the list ends.
func (c *apiClient) incidentPages(ctx context.Context, limit int, more func([]listedIncident) bool) error {
	cursor := ""
	for {
		q := fmt.Sprintf("/api/v1/incidents?limit=%d", limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []listedIncident `json:"items"`
			Next  *string          `json:"next_cursor"`
		}
		if err := c.call(ctx, http.MethodGet, q, nil, http.StatusOK, &page); err != nil {
			return err
		}
		if !more(page.Items) || page.Next == nil || *page.Next == "" {
			return nil
		}
		cursor = *page.Next
	}
}

// mailOf is the distinct mail an incident's title names, or -1.
func mailOf(title string) int {
	var k int
	if n, _ := fmt.Sscanf(title, "Bench mail %d", &k); n != 1 {
		return -1
	}
	return k
}

// email appends n mails to the support INBOX of an in-process IMAP server
// as fast as c appenders can, every DuplicateEvery-th a re-delivery of the
// one before with the same Message-ID, while Kanri polls the mailbox. It
// lists the incidents through the API every emailWatch to time each mail
// from its arrival to its incident, and at the end counts the mails that
// made no case (lost) and the cases beyond one per Message-ID (duplicates).
func (r *runner) email(ctx context.Context, sz size) ([]Result, error) {
	ms, err := startMailServers()
	if err != nil {
		return nil, err
	}
	defer ms.close()
	cfg := emailConfig(ms, r.o.Service)
	in, err := r.start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer in.close()
	api := newAPIClient(in.baseURL(), benchToken, 1)
	defer api.close()

	var senders []string
	for _, u := range cfg.Users {
		senders = append(senders, u.Email)
	}
	run := fmt.Sprintf("%x", time.Now().UnixNano())

	// A first mail, untimed: the mailbox's connection, its folders and the
	// first case's code paths are set up before the clock starts.
	r.progressf("%s: waiting for the warm-up mail's incident", Email)
	known, err := warmUp(ctx, ms, api, run)
	if err != nil {
		return nil, err
	}

	every := r.o.DuplicateEvery
	if every == 0 {
		every = defaultDuplicateEvery
	}
	plan, distinct := mailPlan(sz.n, every)
	var (
		mu      sync.Mutex
		arrived = make([]time.Time, distinct) // the first copy's arrival
	)
	w := &mailWatch{api: api, ms: ms, known: known, first: make([]time.Time, distinct), distinct: distinct}
	watched := make(chan error, 1)
	appending := make(chan struct{})
	go func() { watched <- w.run(ctx, appending) }()

	r.progressf("%s: appending %d mails (%d distinct) to the INBOX", Email, sz.n, distinct)
	appended := hammer(ctx, sz.n, sz.c, func(_ context.Context, i int) error {
		k := plan[i]
		raw := benchMail(fmt.Sprintf("bench-%s-%06d@client.test", run, k), senders[k%len(senders)], fmt.Sprintf(mailSubject, k))
		if err := ms.deliver(raw); err != nil {
			return fmt.Errorf("append mail %d: %w", i, err)
		}
		at := time.Now()
		mu.Lock()
		if arrived[k].IsZero() || at.Before(arrived[k]) {
			arrived[k] = at
		}
		mu.Unlock()
		return nil
	})
	close(appending)
	r.progressf("%s: appended %d mails at %.0f/s; waiting for their incidents", Email, appended.succeeded(), appended.rate())
	if err := <-watched; err != nil {
		res := Result{Scenario: Email, N: sz.n, Concurrency: sz.c, Errors: sz.n, FirstError: err.Error()}
		in.measure(&res)
		return []Result{res}, err
	}
	if err := appended.failed("appends"); err != nil {
		res := appended.result(Email, sz.c)
		in.measure(&res)
		return []Result{res}, err
	}

	// The count of cases per mail comes from one full listing at the end:
	// a duplicate case may be older than what the watcher last paged to.
	cases := make([]int, distinct)
	strangers := 0
	err = api.incidentPages(ctx, 200, func(items []listedIncident) bool {
		for _, it := range items {
			switch k := mailOf(it.Title); {
			case k >= 0 && k < distinct:
				cases[k]++
			case it.Title != warmupSubject:
				strangers++
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list the incidents: %w", err)
	}
	res := emailResult(sz, appended, arrived, w.first, cases, strangers)
	res.Notes = joinNotes(res.Notes, fmt.Sprintf("%d acknowledgements sent; %d in Failed; peak rss %s MB; IMAP poll %s, IDLE; watched by GET list every %s",
		ms.sent.Load(), max(ms.count("Failed"), 0), mb(w.peakRSS), emailPoll, emailWatch))
	if left := ms.count("INBOX"); left > 0 {
		res.Errors += left
		res.Notes = joinNotes(res.Notes, fmt.Sprintf("%d mails never left the INBOX", left))
	}
	in.measure(&res)
	if res.Rate == 0 {
		return []Result{res}, errors.New("no mail made an incident")
	}
	return []Result{res}, nil
}

// warmUp sends one mail and waits for its incident; it returns the
// incidents known before the timed mails.
func warmUp(ctx context.Context, ms *mailServers, api *apiClient, run string) (map[string]bool, error) {
	if err := ms.deliver(benchMail("bench-"+run+"-warmup@client.test", "rita@example.com", warmupSubject)); err != nil {
		return nil, fmt.Errorf("append the warm-up mail: %w", err)
	}
	known := map[string]bool{}
	deadline := time.Now().Add(emailStall)
	for {
		found := false
		err := api.incidentPages(ctx, 200, func(items []listedIncident) bool {
			for _, it := range items {
				known[it.ID] = true
				found = found || it.Title == warmupSubject
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if found {
			return known, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the warm-up mail made no incident within %s", emailStall)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(emailWatch):
		}
	}
}

// mailWatch lists the incidents until every distinct mail has a case and
// the INBOX is empty, or nothing moves for emailStall.
type mailWatch struct {
	api      *apiClient
	ms       *mailServers
	known    map[string]bool
	first    []time.Time // when each distinct mail's incident was first listed
	distinct int
	peakRSS  int64
}

func (w *mailWatch) run(ctx context.Context, appending <-chan struct{}) error {
	var (
		seen         int
		lastProgress = time.Now()
		lastInbox    = -1
	)
	for {
		// Incidents are listed newest first and the mailbox is handled one
		// mail at a time, so paging stops at the first incident seen
		// before. Few cases come between two looks: small pages keep the
		// watcher's own load on Kanri low.
		err := w.api.incidentPages(ctx, 20, func(items []listedIncident) bool {
			now := time.Now()
			for _, it := range items {
				if w.known[it.ID] {
					return false
				}
				w.known[it.ID] = true
				lastProgress = now
				if k := mailOf(it.Title); k >= 0 && k < w.distinct && w.first[k].IsZero() {
					w.first[k] = now
					seen++
				}
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("list the incidents: %w", err)
		}
		w.peakRSS = max(w.peakRSS, residentBytes())
		inbox := w.ms.count("INBOX")
		if inbox != lastInbox {
			lastInbox, lastProgress = inbox, time.Now()
		}
		select {
		case <-appending:
			if seen == w.distinct && inbox == 0 {
				return nil
			}
			if time.Since(lastProgress) > emailStall {
				return nil // what is missing is counted as lost
			}
		default:
			lastProgress = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(emailWatch):
		}
	}
}

// emailResult is the email row: the rate of cases from the first arrival
// to the last case, the arrival-to-case latencies, and as errors the
// failed appends, the lost mails and the duplicate cases.
func emailResult(sz size, appended sample, arrived, first []time.Time, cases []int, strangers int) Result {
	res := Result{Scenario: Email, N: sz.n, Concurrency: sz.c, Errors: appended.errors}
	var (
		lat         []time.Duration
		start, last time.Time
		lost, dups  int
		firstLost   = -1
		firstDup    = -1
	)
	for k := range first {
		if !arrived[k].IsZero() && (start.IsZero() || arrived[k].Before(start)) {
			start = arrived[k]
		}
		if cases[k] == 0 && !arrived[k].IsZero() {
			lost++
			if firstLost < 0 {
				firstLost = k
			}
		}
		if cases[k] > 1 {
			dups += cases[k] - 1
			if firstDup < 0 {
				firstDup = k
			}
		}
		if first[k].IsZero() || arrived[k].IsZero() {
			continue
		}
		lat = append(lat, first[k].Sub(arrived[k]))
		if first[k].After(last) {
			last = first[k]
		}
	}
	res.withLatencies(lat)
	if len(lat) > 0 && last.After(start) {
		res.Rate = float64(len(lat)) / last.Sub(start).Seconds()
	}
	res.Errors += lost + dups + strangers
	switch {
	case appended.firstErr != nil:
		res.FirstError = appended.firstErr.Error()
	case lost > 0:
		res.FirstError = fmt.Sprintf("%d mails made no incident, the first: "+mailSubject, lost, firstLost)
	case dups > 0:
		res.FirstError = fmt.Sprintf("%d duplicate incidents, the first of: "+mailSubject, dups, firstDup)
	case strangers > 0:
		res.FirstError = fmt.Sprintf("%d incidents from no mail of the run", strangers)
	}
	res.Notes = fmt.Sprintf("%d distinct + %d re-delivered mails appended (%.0f/s); %d incidents, %d lost, %d duplicate; rate = cases/s from first arrival to last case; concurrency = appenders, one mailbox poller; latency includes the wait behind earlier mail",
		len(first), sz.n-len(first), appended.rate(), len(lat), lost, dups)
	return res
}
