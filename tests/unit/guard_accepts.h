/* guard_accepts.h -- for the tests of the decoders that check the guard's limits themselves
 * (test_mpdecode.c, test_raw_params.c): the guard's own verdict on a message. */
#ifndef PATRON_TEST_GUARD_ACCEPTS_H
#define PATRON_TEST_GUARD_ACCEPTS_H

#include <stddef.h>
#include <stdint.h>

#include "guard.h"

/* Whether the guard, fed p[0..k) from idle (in two reads), accepts it as exactly one
 * message: none ends before k, one ends at k, nothing is pending. */
static inline int guard_accepts_one(const uint8_t *p, size_t k, const guard_limits_t *lim) {
  guard_t g;
  size_t good;
  guard_init(&g, lim);
  if (guard_feed(&g, p, k - 1, &good) != GUARD_OK || good != 0) return 0;
  if (guard_feed(&g, p + k - 1, 1, &good) != GUARD_OK || good != 1) return 0;
  return guard_idle(&g);
}

#endif
