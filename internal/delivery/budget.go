package delivery

import (
	"sync/atomic"
	"time"
)

// budget divides an invocation's time so that it never dies with work unreported: Lambda
// returns nothing of a timed-out invocation, so every message of the batch would come back,
// and the outcome of each publish in flight would be unknown.
//
//	start ........ stop ...... cut ...... marks ...... final .. deadline
//	new deliveries  in-flight   log marks   requeues    the response
//	may start       calls may   may finish  and parks   is returned
//	                finish                  may finish
type budget struct {
	stop  time.Time // no delivery starts after this
	cut   time.Time // lookups, claims and publishes end here (their context's deadline)
	marks time.Time // log marks end here
	final time.Time // queue writes end here; then the response goes back
	// slowest is the longest claim-and-publish seen recently (ns): a delivery is not started
	// unless one that slow would still end before cut.
	slowest atomic.Int64
}

// frac is part of the time left, within bounds: a proportion fits both a 3 s local timeout
// and a 15 min one.
func frac(left time.Duration, f float64, lo, hi time.Duration) time.Duration {
	return min(max(time.Duration(float64(left)*f), lo), hi)
}

// newBudget divides the time to deadline. slowest seeds what the invocation expects of a
// delivery: a warm environment remembers the last invocation's (Service.recentSlowest).
func newBudget(now, deadline time.Time, slowest time.Duration) *budget {
	left := deadline.Sub(now)
	b := &budget{
		// Deliveries stop starting well before the calls in flight are cut: a publish cut
		// short may or may not have happened, while a push requeued for lack of time costs
		// one more message.
		stop:  deadline.Add(-frac(left, 0.45, 500*time.Millisecond, 10*time.Second)),
		cut:   deadline.Add(-frac(left, 0.15, 300*time.Millisecond, 3*time.Second)),
		marks: deadline.Add(-frac(left, 0.08, 200*time.Millisecond, 2*time.Second)),
		final: deadline.Add(-frac(left, 0.04, 100*time.Millisecond, time.Second)),
	}
	b.slowest.Store(int64(slowest))
	return b
}

// canStart reports whether a delivery started at now would end before cut.
func (b *budget) canStart(now time.Time) bool {
	return now.Before(b.stop) && now.Add(time.Duration(b.slowest.Load())).Before(b.cut)
}

// observe records how long one claim-and-publish took.
func (b *budget) observe(d time.Duration) {
	for {
		cur := b.slowest.Load()
		if int64(d) <= cur || b.slowest.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}
