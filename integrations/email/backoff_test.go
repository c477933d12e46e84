package email

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var prevMax time.Duration
	for i := range 8 {
		d := b.next()
		ceiling := min(100*time.Millisecond<<i, time.Second)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("attempt %d: %v outside [%v, %v]", i, d, ceiling/2, ceiling)
		}
		prevMax = ceiling
	}
	if prevMax != time.Second {
		t.Errorf("did not reach the cap")
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}
