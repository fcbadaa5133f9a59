/* clock.c -- see clock.h. */
#include "base/clock.h"

#include <time.h>

static void read_clock(clockid_t id, struct timespec *ts) {
  clock_gettime(id, ts);
}

int64_t clock_wall_s(void) {
  struct timespec ts;
  read_clock(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

int64_t clock_wall_ms(void) {
  struct timespec ts;
  read_clock(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ns(void) {
  struct timespec ts;
  read_clock(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ms(void) { return clock_mono_ns() / 1000000u; }

double clock_elapsed_s(uint64_t since_ns) { return (double)(clock_mono_ns() - since_ns) / 1e9; }
