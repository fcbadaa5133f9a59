/* bench_rand.h -- the synthetic-data helpers the recommendation benches share: a xorshift
 * generator, uniform [0,1) draws, Zipf draws from a cumulative table, a monotonic clock.
 * Header-only (static), for bench/ executables only. */
#ifndef PATRON_BENCH_RAND_H
#define PATRON_BENCH_RAND_H

#include <stdint.h>
#include <time.h>

static inline double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static inline uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  return *s = x;
}

static inline double unif(uint64_t *s) { return (rnd(s) >> 11) * (1.0 / 9007199254740992.0); }

/* An index in [0, n) drawn from the cumulative distribution cdf (cdf[n-1] == 1). */
static inline uint32_t zipf(const double *cdf, uint32_t n, uint64_t *s) {
  double u = unif(s);
  uint32_t lo = 0, hi = n - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (cdf[mid] < u) lo = mid + 1; else hi = mid;
  }
  return lo;
}

#endif
