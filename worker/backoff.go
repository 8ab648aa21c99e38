package worker

import (
	"math/rand/v2"
	"time"
)

// Reconnect backoff: the delay doubles from backoffMin to backoffMax and
// each wait is a random point in its upper half, so that workers cut off
// together do not reconnect in step.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

type backoff struct {
	delay time.Duration // last delay before jitter; 0 after reset
}

// next returns the wait before the next connection attempt.
func (b *backoff) next() time.Duration {
	switch {
	case b.delay == 0:
		b.delay = backoffMin
	case b.delay < backoffMax:
		b.delay = min(2*b.delay, backoffMax)
	}
	half := b.delay / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.delay = 0 }
