package email

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultDailyCap is how many mails Kanri sends one address per day before
// it stops (Znuny's PostmasterMaxEmails default). A loop that slips past
// Classify still ends here.
const DefaultDailyCap = 40

// CapCounter counts mails per recipient and day. The application backs it
// with its database; MemoryCapCounter serves tests and single-process use.
type CapCounter interface {
	// Increment adds one to the count of recipient (lower case) on day
	// ("2006-01-02") and returns the new count. It must be atomic.
	Increment(ctx context.Context, recipient, day string) (int, error)
}

// RecipientCap limits the mail sent to one address per calendar day.
type RecipientCap struct {
	Counter CapCounter
	// Limit is the daily cap; 0 means DefaultDailyCap.
	Limit int
	// Overrides sets a cap per address (lower case), e.g. a larger one for
	// a monitoring mailbox.
	Overrides map[string]int
	// Now returns the current time; nil means time.Now. Tests pass a fake
	// clock.
	Now func() time.Time
	// Location sets where a day starts; nil means UTC.
	Location *time.Location
}

// Allow counts one mail to recipient and reports whether it is within the
// day's cap, with the count so far. A refused mail is counted too, so the
// count shows how hard a loop pushed.
func (c *RecipientCap) Allow(ctx context.Context, recipient string) (allowed bool, count int, err error) {
	if c.Counter == nil {
		return false, 0, fmt.Errorf("email: recipient cap has no counter")
	}
	rcpt := strings.ToLower(strings.TrimSpace(recipient))
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	day := now().In(loc).Format(time.DateOnly)
	count, err = c.Counter.Increment(ctx, rcpt, day)
	if err != nil {
		return false, 0, fmt.Errorf("email: count mail to %s: %w", rcpt, err)
	}
	limit := c.Limit
	if limit <= 0 {
		limit = DefaultDailyCap
	}
	if o, ok := c.Overrides[rcpt]; ok {
		limit = o
	}
	return count <= limit, count, nil
}

// MemoryCapCounter is an in-memory CapCounter. It keeps only the most
// recent day it has seen, so it does not grow without bound.
type MemoryCapCounter struct {
	mu     sync.Mutex
	day    string
	counts map[string]int
}

// Increment implements CapCounter.
func (m *MemoryCapCounter) Increment(_ context.Context, recipient, day string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case day > m.day:
		m.day, m.counts = day, map[string]int{}
	case day < m.day:
		// A late call for a past day: that day is gone; count it alone.
		return 1, nil
	}
	m.counts[recipient]++
	return m.counts[recipient], nil
}
