package email

import (
	"context"
	"testing"
	"time"
)

func TestRecipientCap(t *testing.T) {
	now := time.Date(2024, 1, 15, 23, 59, 0, 0, time.UTC)
	counter := &MemoryCapCounter{}
	c := &RecipientCap{
		Counter:   counter,
		Limit:     3,
		Overrides: map[string]int{"monitor@example.jp": 5},
		Now:       func() time.Time { return now },
	}
	ctx := context.Background()
	for i := 1; i <= 4; i++ {
		ok, n, err := c.Allow(ctx, "Taro@Example.jp")
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i <= 3) || n != i {
			t.Errorf("mail %d: allowed=%v count=%d", i, ok, n)
		}
	}
	for i := 1; i <= 5; i++ {
		if ok, _, _ := c.Allow(ctx, "monitor@example.jp"); !ok {
			t.Errorf("override: mail %d refused", i)
		}
	}
	if ok, _, _ := c.Allow(ctx, "monitor@example.jp"); ok {
		t.Error("override: sixth mail allowed")
	}

	now = now.Add(2 * time.Minute) // the next day in UTC
	if ok, n, _ := c.Allow(ctx, "taro@example.jp"); !ok || n != 1 {
		t.Errorf("next day: allowed=%v count=%d", ok, n)
	}

	// In Tokyo the day turned nine hours earlier.
	tokyo := time.FixedZone("JST", 9*3600)
	jst := &RecipientCap{Counter: &MemoryCapCounter{}, Limit: 1, Location: tokyo,
		Now: func() time.Time { return time.Date(2024, 1, 15, 14, 59, 0, 0, time.UTC) }}
	jst.Allow(ctx, "a@example.jp")
	jst.Now = func() time.Time { return time.Date(2024, 1, 15, 15, 0, 0, 0, time.UTC) }
	if ok, n, _ := jst.Allow(ctx, "a@example.jp"); !ok || n != 1 {
		t.Errorf("JST midnight: allowed=%v count=%d", ok, n)
	}

	if _, _, err := (&RecipientCap{}).Allow(ctx, "a@example.jp"); err == nil {
		t.Error("cap without counter did not fail")
	}
	def := &RecipientCap{Counter: &MemoryCapCounter{}, Now: func() time.Time { return now }}
	for i := 1; i <= DefaultDailyCap+1; i++ {
		ok, _, _ := def.Allow(ctx, "x@example.jp")
		if ok != (i <= DefaultDailyCap) {
			t.Fatalf("default cap: mail %d allowed=%v", i, ok)
		}
	}
}
