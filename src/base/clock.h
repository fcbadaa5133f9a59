/* clock.h -- the one place the core and the daemon read the time. Wall-clock time is UTC
 * seconds or milliseconds since the Unix epoch (what records carry); monotonic time is for
 * durations and timeouts only. Core write/read functions never call these: they take `now`
 * as a parameter, so tests (and the daemon's test clock) decide what time it is.
 * Invariant: thread-safe, no state. */
#ifndef PATRON_BASE_CLOCK_H
#define PATRON_BASE_CLOCK_H

#include <stdint.h>

/* Wall clock (CLOCK_REALTIME). */
int64_t clock_wall_s(void);
int64_t clock_wall_ms(void);
/* Monotonic clock (CLOCK_MONOTONIC): milliseconds and nanoseconds since an arbitrary start. */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_ns(void);
/* Seconds elapsed since a clock_mono_ns() reading. */
double clock_elapsed_s(uint64_t since_ns);

#endif
