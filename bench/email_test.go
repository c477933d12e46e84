package bench

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMailPlan(t *testing.T) {
	plan, distinct := mailPlan(20, 10)
	if distinct != 18 || len(plan) != 20 {
		t.Fatalf("%d distinct in %v", distinct, plan)
	}
	// The 10th and 20th mails re-deliver the one before them.
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 17}
	if !slices.Equal(plan, want) {
		t.Fatalf("plan %v, want %v", plan, want)
	}
	if plan, distinct := mailPlan(5, -1); distinct != 5 || !slices.Equal(plan, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("no duplicates: %v, %d distinct", plan, distinct)
	}
	if _, distinct := mailPlan(1, 1); distinct != 1 {
		t.Fatalf("every mail a duplicate still needs one original: %d distinct", distinct)
	}
}

func TestBenchMail(t *testing.T) {
	raw := benchMail("bench-x-000007@client.test", "rita@example.com", fmt.Sprintf(mailSubject, 7))
	if strings.Contains(strings.ReplaceAll(raw, "\r\n", ""), "\n") {
		t.Fatal("a bare LF in the mail")
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Message-ID") != "<bench-x-000007@client.test>" || msg.Header.Get("From") != "rita@example.com" {
		t.Fatalf("headers: %v", msg.Header)
	}
	if k := mailOf(msg.Header.Get("Subject")); k != 7 {
		t.Fatalf("mailOf(%q) = %d", msg.Header.Get("Subject"), k)
	}
	for _, title := range []string{warmupSubject, "Printer on fire", "Bench 3: outgoing mail stays in the outbox"} {
		if k := mailOf(title); k != -1 {
			t.Errorf("mailOf(%q) = %d, want -1", title, k)
		}
	}
}

func TestEmailResult(t *testing.T) {
	t0 := time.Now()
	arrived := []time.Time{t0, t0.Add(time.Millisecond), t0.Add(2 * time.Millisecond), t0.Add(3 * time.Millisecond)}
	first := []time.Time{t0.Add(100 * time.Millisecond), t0.Add(200 * time.Millisecond), {}, t0.Add(500 * time.Millisecond)}
	cases := []int{1, 2, 0, 1} // mail 1 made two cases, mail 2 none
	appended := sample{n: 5, lat: make([]time.Duration, 5), ok: []bool{true, true, true, true, true}, elapsed: time.Millisecond}
	r := emailResult(size{5, 1}, appended, arrived, first, cases, 0)
	if r.Errors != 2 || r.P99 != 497*time.Millisecond || r.P50 != 199*time.Millisecond {
		t.Fatalf("%+v", r)
	}
	if want := 3 / 0.5; r.Rate != want {
		t.Fatalf("rate %f, want %f", r.Rate, want)
	}
	if !strings.Contains(r.Notes, "4 distinct + 1 re-delivered") || !strings.Contains(r.Notes, "3 incidents, 1 lost, 1 duplicate") ||
		!strings.Contains(r.FirstError, "1 mails made no incident, the first: Bench mail 000002") {
		t.Fatalf("notes %q, first error %q", r.Notes, r.FirstError)
	}
}
