package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"golang.org/x/text/encoding/japanese"
)

// imapFixture is a real IMAP server (go-imap's in-memory backend) on a
// loopback port, with its wire traffic recorded.
type imapFixture struct {
	t       *testing.T
	user    *imapmemserver.User
	mem     *imapmemserver.Server
	caps    imap.CapSet
	addr    string
	traffic *lockedBuffer

	mu  sync.Mutex
	srv *imapserver.Server
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

var (
	capsRev2 = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	// No MOVE, no UIDPLUS, no IDLE: the fallbacks run.
	capsRev1 = imap.CapSet{imap.CapIMAP4rev1: {}}
)

func startIMAP(t *testing.T, caps imap.CapSet) *imapFixture {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("svc", "pw")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	f := &imapFixture{t: t, user: user, mem: mem, caps: caps, traffic: &lockedBuffer{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.stop)
	return f
}

func (f *imapFixture) serve(ln net.Listener) {
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return f.mem.NewSession(), nil, nil
		},
		Caps:         f.caps,
		InsecureAuth: true,
		Logger:       discardLogger{},
		DebugWriter:  f.traffic,
	})
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every connection.
func (f *imapFixture) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		f.srv.Close()
		f.srv = nil
	}
}

// restart serves the same mailboxes on the same address again.
func (f *imapFixture) restart() {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.serve(ln)
}

func (f *imapFixture) deliver(raw []byte) uint32 {
	f.t.Helper()
	data, err := f.user.Append("INBOX", bytes.NewReader(raw), &imap.AppendOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return uint32(data.UID)
}

func (f *imapFixture) count(folder string) int {
	f.t.Helper()
	st, err := f.user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return -1
	}
	return int(*st.NumMessages)
}

func (f *imapFixture) poller(h Handler, cursors CursorStore) *Poller {
	return &Poller{
		Mailbox: Mailbox{
			Name: "support", Addr: f.addr, Username: "svc", Password: "pw",
			ProcessedFolder: "Processed", FailedFolder: "Failed", MaxSize: 16 << 10,
		},
		Handler:    h,
		Cursors:    cursors,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// recorder is a Handler that remembers its calls and fails on demand.
type recorder struct {
	mu    sync.Mutex
	calls []handled
	// fail, when set, decides per call whether Handle fails.
	fail func(uid uint32, attempt int) error
	// panicOnce makes the first call panic.
	panicOnce bool
	attempts  map[uint32]int
}

type handled struct {
	mailbox  string
	uid      uint32
	raw      []byte
	msg      *Message
	parseErr error
}

func (r *recorder) Handle(_ context.Context, mailbox string, uid uint32, raw []byte, msg *Message, parseErr error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.attempts == nil {
		r.attempts = map[uint32]int{}
	}
	r.attempts[uid]++
	if r.panicOnce {
		r.panicOnce = false
		panic("handler bug")
	}
	if r.fail != nil {
		if err := r.fail(uid, r.attempts[uid]); err != nil {
			return err
		}
	}
	r.calls = append(r.calls, handled{mailbox, uid, raw, msg, parseErr})
	return nil
}

func (r *recorder) handled() []handled {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]handled(nil), r.calls...)
}

func (r *recorder) uids() []uint32 {
	var out []uint32
	for _, c := range r.handled() {
		out = append(out, c.uid)
	}
	return out
}

// eventually polls cond for up to three seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testMail(subject, body string) []byte {
	return crlf(fmt.Sprintf("From: Taro <taro@example.jp>\nTo: help@kanri.example\nMessage-ID: <%s@example.jp>\nSubject: %s\n\n%s\n",
		strings.ReplaceAll(subject, " ", "-"), subject, body))
}

func TestPollerHandlesNewMailOnceAndMovesIt(t *testing.T) {
	f := startIMAP(t, capsRev2)
	jis, _ := japanese.ISO2022JP.NewEncoder().String("プリンターが動きません。")
	sjis, _ := japanese.ShiftJIS.NewEncoder().String("①番の会議室です。")
	f.deliver(crlf("From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\nMessage-ID: <jis@example.jp>\nContent-Type: text/plain; charset=ISO-2022-JP\n\n" + jis + "\n"))
	// Outlook-style: Shift_JIS body, no charset at all.
	f.deliver(crlf("From: sato@example.jp\nSubject: room\nMessage-ID: <sjis@example.jp>\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n" + sjis + "\n"))

	rec := &recorder{}
	cursors := &MemoryCursorStore{}
	p := f.poller(rec, cursors)
	stats, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats != (PollStats{Handled: 2}) {
		t.Errorf("stats = %+v", stats)
	}
	calls := rec.handled()
	if len(calls) != 2 {
		t.Fatalf("calls = %d", len(calls))
	}
	if c := calls[0]; c.mailbox != "support" || c.uid != 1 || c.parseErr != nil || c.msg.Subject != "テスト" || c.msg.From.Name != "山田" ||
		c.msg.Text != "プリンターが動きません。\n" || !bytes.Contains(c.raw, []byte("Message-ID: <jis@example.jp>")) {
		t.Errorf("first call = %+v, msg %+v", c, c.msg)
	}
	if c := calls[1]; c.uid != 2 || c.msg.Text != "①番の会議室です。\n" {
		t.Errorf("second call: uid %d text %q warnings %q", c.uid, c.msg.Text, c.msg.Warnings)
	}
	if f.count("INBOX") != 0 || f.count("Processed") != 2 {
		t.Errorf("INBOX %d, Processed %d", f.count("INBOX"), f.count("Processed"))
	}
	cur, _ := cursors.Load(context.Background(), "support")
	if cur.LastUID != 2 || cur.UIDValidity == 0 {
		t.Errorf("cursor = %+v", cur)
	}

	// Nothing new: nothing handled.
	if stats, err := p.PollOnce(context.Background()); err != nil || stats != (PollStats{}) {
		t.Errorf("second poll: %+v %v", stats, err)
	}
	f.deliver(testMail("third", "again"))
	if stats, err := p.PollOnce(context.Background()); err != nil || stats.Handled != 1 {
		t.Errorf("third poll: %+v %v", stats, err)
	}
	if got := rec.uids(); fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("handled UIDs = %v", got)
	}
	if !strings.Contains(f.traffic.String(), "MOVE") {
		t.Error("no MOVE on the wire")
	}
}

func TestPollerRetriesWhenHandlerFails(t *testing.T) {
	f := startIMAP(t, capsRev2)
	f.deliver(testMail("one", "first"))
	f.deliver(testMail("two", "second"))
	rec := &recorder{fail: func(uid uint32, attempt int) error {
		if uid == 1 && attempt == 1 {
			return errors.New("database unavailable")
		}
		return nil
	}}
	cursors := &MemoryCursorStore{}
	p := f.poller(rec, cursors)

	stats, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats != (PollStats{Handled: 1, Deferred: 1}) {
		t.Errorf("stats = %+v", stats)
	}
	if f.count("INBOX") != 1 || f.count("Processed") != 1 {
		t.Errorf("INBOX %d, Processed %d", f.count("INBOX"), f.count("Processed"))
	}
	if cur, _ := cursors.Load(context.Background(), "support"); cur.LastUID != 0 {
		t.Errorf("cursor moved past a deferred mail: %+v", cur)
	}

	stats, err = p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats != (PollStats{Handled: 1}) {
		t.Errorf("retry stats = %+v", stats)
	}
	if got := rec.uids(); fmt.Sprint(got) != "[2 1]" {
		t.Errorf("handled UIDs = %v", got)
	}
	if f.count("INBOX") != 0 || f.count("Processed") != 2 {
		t.Errorf("INBOX %d, Processed %d", f.count("INBOX"), f.count("Processed"))
	}
	if cur, _ := cursors.Load(context.Background(), "support"); cur.LastUID != 2 {
		t.Errorf("cursor = %+v", cur)
	}
}

func TestPollerBatches(t *testing.T) {
	f := startIMAP(t, capsRev2)
	for i := range 5 {
		f.deliver(testMail(fmt.Sprintf("m%d", i), "x"))
	}
	down := true
	rec := &recorder{fail: func(uint32, int) error {
		if down {
			return errors.New("database unavailable")
		}
		return nil
	}}
	p := f.poller(rec, &MemoryCursorStore{})
	p.BatchSize = 2

	// Everything fails: one batch is tried, and the poll ends instead of
	// fetching the same batch forever.
	stats, err := p.PollOnce(context.Background())
	if err != nil || stats != (PollStats{Deferred: 2}) || f.count("INBOX") != 5 {
		t.Fatalf("while down: %+v %v, INBOX %d", stats, err, f.count("INBOX"))
	}

	down = false
	stats, err = p.PollOnce(context.Background())
	if err != nil || stats != (PollStats{Handled: 5}) || f.count("INBOX") != 0 {
		t.Fatalf("after recovery: %+v %v, INBOX %d", stats, err, f.count("INBOX"))
	}
	if got := rec.uids(); fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Errorf("handled UIDs = %v", got)
	}
}

func TestPollerCursorPreventsRehandlingAfterRestart(t *testing.T) {
	f := startIMAP(t, capsRev2)
	for i := range 3 {
		f.deliver(testMail(fmt.Sprintf("m%d", i), "body"))
	}
	cursors := &MemoryCursorStore{}
	first := &recorder{fail: func(uid uint32, attempt int) error {
		if uid == 2 && attempt == 1 {
			return errors.New("temporary")
		}
		return nil
	}}
	p := f.poller(first, cursors)
	p.Mailbox.ProcessedFolder, p.Mailbox.FailedFolder = "", "" // leave mail in place

	// Without a processed folder, handling stops at the deferred mail: the
	// cursor is what keeps mail 3 from being handled twice.
	if stats, err := p.PollOnce(context.Background()); err != nil || stats != (PollStats{Handled: 1, Deferred: 1}) {
		t.Fatalf("first poll: %+v %v", stats, err)
	}
	if stats, err := p.PollOnce(context.Background()); err != nil || stats != (PollStats{Handled: 2}) {
		t.Fatalf("second poll: %+v %v", stats, err)
	}
	if got := first.uids(); fmt.Sprint(got) != "[1 2 3]" || f.count("INBOX") != 3 {
		t.Fatalf("handled %v, INBOX %d", got, f.count("INBOX"))
	}

	// A new process with the persisted cursor handles nothing again.
	again := &recorder{}
	p2 := f.poller(again, cursors)
	p2.Mailbox.ProcessedFolder, p2.Mailbox.FailedFolder = "", ""
	if stats, err := p2.PollOnce(context.Background()); err != nil || stats != (PollStats{}) || len(again.handled()) != 0 {
		t.Errorf("after restart: %+v %v, handled %v", stats, err, again.uids())
	}
	// The same process with a lost cursor would.
	lost := &recorder{}
	p3 := f.poller(lost, &MemoryCursorStore{})
	p3.Mailbox.ProcessedFolder = ""
	if _, err := p3.PollOnce(context.Background()); err != nil || len(lost.handled()) != 3 {
		t.Errorf("without cursor: handled %v, %v", lost.uids(), err)
	}

	// Handled mail left in place is marked seen.
	st, _ := f.user.Status("INBOX", &imap.StatusOptions{NumUnseen: true})
	if *st.NumUnseen != 0 {
		t.Errorf("unseen = %d", *st.NumUnseen)
	}
}

func TestPollerUIDValidityChangeResetsCursor(t *testing.T) {
	f := startIMAP(t, capsRev2)
	f.deliver(testMail("a", "x"))
	f.deliver(testMail("b", "x"))
	cursors := &MemoryCursorStore{}
	rec := &recorder{}
	p := f.poller(rec, cursors)
	p.Mailbox.ProcessedFolder = ""
	if _, err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := cursors.Load(context.Background(), "support")

	// The mailbox is recreated: UIDs start again at 1 under a new
	// UIDVALIDITY.
	if err := f.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := f.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	if uid := f.deliver(testMail("c", "x")); uid != 1 {
		t.Fatalf("new UID = %d", uid)
	}
	if _, err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := rec.handled()
	if len(calls) != 3 || calls[2].msg.Subject != "c" {
		t.Fatalf("handled %v", rec.uids())
	}
	after, _ := cursors.Load(context.Background(), "support")
	if after.UIDValidity == before.UIDValidity || after.LastUID != 1 {
		t.Errorf("cursor before %+v, after %+v", before, after)
	}
}

func TestPollerRefusesOversizeBeforeFetchingBody(t *testing.T) {
	f := startIMAP(t, capsRev2)
	const marker = "BODY-MUST-NOT-BE-DOWNLOADED"
	big := testMail("huge attachment", strings.Repeat(marker+"\n", 2000))
	f.deliver(big)
	f.deliver(testMail("small", "fine"))
	rec := &recorder{}
	p := f.poller(rec, &MemoryCursorStore{})
	p.Mailbox.MaxSize = 8 << 10

	stats, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats != (PollStats{Handled: 1, Failed: 1}) {
		t.Errorf("stats = %+v", stats)
	}
	calls := rec.handled()
	if len(calls) != 2 {
		t.Fatalf("calls = %d", len(calls))
	}
	refused := calls[0]
	var oe *OversizeError
	if !errors.As(refused.parseErr, &oe) || oe.Size != int64(len(big)) || oe.Limit != 8<<10 {
		t.Fatalf("parseErr = %v", refused.parseErr)
	}
	if refused.raw != nil || refused.msg == nil || refused.msg.Subject != "huge attachment" || refused.msg.From.Address != "taro@example.jp" {
		t.Errorf("refused call: raw %d bytes, msg %+v", len(refused.raw), refused.msg)
	}
	if strings.Contains(f.traffic.String(), marker) {
		t.Error("the body of the oversize mail crossed the wire")
	}
	if f.count("Failed") != 1 || f.count("Processed") != 1 || f.count("INBOX") != 0 {
		t.Errorf("Failed %d, Processed %d, INBOX %d", f.count("Failed"), f.count("Processed"), f.count("INBOX"))
	}
}

func TestPollerBrokenMIMEGoesToFailedFolder(t *testing.T) {
	f := startIMAP(t, capsRev2)
	f.deliver(crlf("From: broken@example.jp\nSubject: broken\nContent-Type: multipart/mixed\n\nno boundary anywhere\n"))
	f.deliver(testMail("after", "still handled"))
	rec := &recorder{}
	p := f.poller(rec, &MemoryCursorStore{})
	stats, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats != (PollStats{Handled: 1, Failed: 1}) {
		t.Errorf("stats = %+v", stats)
	}
	calls := rec.handled()
	var pe *ParseError
	if len(calls) != 2 || !errors.As(calls[0].parseErr, &pe) || pe.Reason != "multipart without boundary" {
		t.Fatalf("calls = %+v", calls)
	}
	if calls[0].raw == nil || calls[0].msg == nil || calls[0].msg.Subject != "broken" {
		t.Errorf("broken call: %+v", calls[0])
	}
	if calls[1].parseErr != nil || calls[1].msg.Text != "still handled\n" {
		t.Errorf("good call: %+v", calls[1])
	}
	if f.count("Failed") != 1 || f.count("Processed") != 1 {
		t.Errorf("Failed %d, Processed %d", f.count("Failed"), f.count("Processed"))
	}
}

func TestPollerMoveFallbackWithoutMOVE(t *testing.T) {
	f := startIMAP(t, capsRev1)
	f.deliver(testMail("one", "x"))
	f.deliver(testMail("two", "x"))
	rec := &recorder{}
	p := f.poller(rec, &MemoryCursorStore{})
	stats, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Handled != 2 || f.count("INBOX") != 0 || f.count("Processed") != 2 {
		t.Errorf("stats %+v, INBOX %d, Processed %d", stats, f.count("INBOX"), f.count("Processed"))
	}
	traffic := f.traffic.String()
	if !strings.Contains(traffic, "UID COPY") || !strings.Contains(traffic, "EXPUNGE") || strings.Contains(traffic, "UID MOVE") {
		t.Error("the COPY + STORE + EXPUNGE fallback was not used")
	}
}

func TestPollerMissingFolderKeepsIntakeGoing(t *testing.T) {
	f := startIMAP(t, capsRev2)
	f.deliver(testMail("one", "x"))
	// The processed folder disappears while the mail is being handled (an
	// administrator deleted it), so the move is answered with NO.
	rec := &recorder{fail: func(uint32, int) error { return f.user.Delete("Processed") }}
	p := f.poller(rec, &MemoryCursorStore{})
	stats, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Handled != 1 || f.count("INBOX") != 1 {
		t.Errorf("stats %+v, INBOX %d", stats, f.count("INBOX"))
	}
	// Handled once; the cursor keeps it from being handled again, even
	// after the folder is back.
	if _, err := p.PollOnce(context.Background()); err != nil || len(rec.handled()) != 1 {
		t.Errorf("handled %v, %v", rec.uids(), err)
	}
}

func TestPollerRunUsesIdleAndStopsCleanly(t *testing.T) {
	f := startIMAP(t, capsRev2)
	baseline := runtime.NumGoroutine()
	rec := &recorder{}
	p := f.poller(rec, &MemoryCursorStore{})
	p.PollInterval = time.Hour // only IDLE can bring the second mail in time

	// Delivered before the start, so that the first poll finds it.
	f.deliver(testMail("first", "x"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	eventually(t, "the first mail", func() bool { return len(rec.handled()) == 1 && f.count("Processed") == 1 })
	eventually(t, "IDLE after the move", func() bool {
		tr := f.traffic.String()
		return strings.LastIndex(tr, "+ idling") > strings.LastIndex(tr, "UID MOVE")
	})

	// go-imap's in-memory server drops an update queued in the instant
	// between "+ idling" and its IDLE loop starting (it does not flush
	// pending updates at IDLE start; the periodic poll is what covers such
	// servers). A later delivery wakes the poller anyway, and with an
	// hour's poll interval only IDLE can have brought the mail in.
	f.deliver(testMail("second", "x"))
	deadline := time.Now().Add(3 * time.Second)
	for len(rec.handled()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the second mail through IDLE")
		}
		nudge := time.Now().Add(300 * time.Millisecond)
		for len(rec.handled()) < 2 && time.Now().Before(nudge) {
			time.Sleep(5 * time.Millisecond)
		}
		if len(rec.handled()) < 2 {
			f.deliver(testMail("nudge", "x"))
		}
	}
	if got := rec.handled(); got[1].msg.Subject != "second" {
		t.Errorf("second handled mail = %q", got[1].msg.Subject)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

func TestPollerRunReconnectsAfterServerRestart(t *testing.T) {
	f := startIMAP(t, capsRev1)
	rec := &recorder{}
	p := f.poller(rec, &MemoryCursorStore{})
	p.PollInterval = 20 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	f.deliver(testMail("before", "x"))
	// Wait for the whole move (COPY, STORE, EXPUNGE here) too: a connection
	// lost before it completes hands the mail over again (at least once),
	// which is not what this test is about.
	eventually(t, "the first mail", func() bool {
		return len(rec.handled()) == 1 && f.count("Processed") == 1 && f.count("INBOX") == 0
	})

	f.stop()
	f.deliver(testMail("during", "x"))
	time.Sleep(50 * time.Millisecond) // let a few reconnects fail
	f.restart()
	eventually(t, "the mail delivered while the server was down", func() bool { return len(rec.handled()) == 2 })
	if got := rec.uids(); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("handled UIDs = %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestPollerRunRecoversFromHandlerPanic(t *testing.T) {
	f := startIMAP(t, capsRev2)
	f.deliver(testMail("poison once", "x"))
	rec := &recorder{panicOnce: true}
	p := f.poller(rec, &MemoryCursorStore{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	eventually(t, "the mail handled and moved after the panic", func() bool {
		return len(rec.handled()) == 1 && f.count("Processed") == 1
	})
	cancel()
	<-done
}

func TestPollerRunWithoutServerStopsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now

	p := &Poller{
		Mailbox:    Mailbox{Name: "x", Addr: addr},
		Handler:    &recorder{},
		Cursors:    &MemoryCursorStore{},
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
		Logger:     slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Run(ctx); err != nil {
		t.Errorf("Run = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v", d)
	}
	if _, err := p.PollOnce(context.Background()); err == nil {
		t.Error("PollOnce against nothing succeeded")
	}
}

func TestPollerLoginFailure(t *testing.T) {
	f := startIMAP(t, capsRev2)
	p := f.poller(&recorder{}, &MemoryCursorStore{})
	p.Mailbox.Password = "wrong"
	if _, err := p.PollOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "login") {
		t.Errorf("err = %v", err)
	}
}

func TestPollerValidates(t *testing.T) {
	ok := Poller{Mailbox: Mailbox{Name: "a", Addr: "127.0.0.1:1"}, Handler: &recorder{}, Cursors: &MemoryCursorStore{}}
	for name, mutate := range map[string]func(*Poller){
		"no name":    func(p *Poller) { p.Mailbox.Name = "" },
		"no addr":    func(p *Poller) { p.Mailbox.Addr = "" },
		"no handler": func(p *Poller) { p.Handler = nil },
		"no cursors": func(p *Poller) { p.Cursors = nil },
	} {
		p := ok
		mutate(&p)
		if err := p.Run(context.Background()); err == nil {
			t.Errorf("%s: Run accepted the configuration", name)
		}
	}
}
