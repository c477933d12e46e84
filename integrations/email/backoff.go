package email

import (
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing reconnect delays with "equal jitter":
// half the delay is fixed, half random, so that many workers that lost the
// same server do not reconnect in step.
type backoff struct {
	min, max time.Duration
	attempt  int
}

func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.attempt < 32 {
		b.attempt++
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.attempt = 0 }
