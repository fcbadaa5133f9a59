/* guard.h -- a resumable msgpack pre-scanner that enforces Patron's input limits on the raw
 * byte stream BEFORE msgpack-c's unpacker sees it (msgpack-c 4.0 has no limits of its own:
 * deep nesting returns NOMEM, huge container headers reserve gigabytes, a str32 header
 * announcing 1 GB waits forever).
 *
 * Accepted grammar (per message):
 *   message   := array(3|4) element*     -- any other first byte is rejected at once
 *   element   := scalar | str/bin/ext body | array(n) element^n | map(n) (element element)^n
 * Limits: message bytes <= max_message; container depth <= max_depth; elements per container
 * <= max_elems; a str/bin/ext announcing more bytes than the message may still hold is
 * rejected as soon as its header is read; the reserved byte 0xc1 is rejected.
 *
 * Every byte is scanned exactly once, whatever the split of the stream into reads. The guard
 * also notes the message's type and msgid (elements 0 and 1 of the outer array) so that an
 * error reply can carry the msgid. Invariant: after a violation the guard stays failed; the
 * connection must be closed (a msgpack stream cannot be resynchronised).
 *
 * Deferred scanning (the daemon's one-walk path, mpdecode.h): bytes may be handed over
 * unscanned (guard_defer). A whole message at their start that mpdecode_request_params
 * admitted (it checks these same limits while it decodes) is counted with guard_take; the
 * rest is scanned with guard_feed_deferred before anything else reads it. Invariant: the
 * deferred bytes always follow the scanned ones, so the verdict is the one guard_feed would
 * give over the whole stream. */
#ifndef PATRON_GUARD_H
#define PATRON_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "mpframe.h"

#define GUARD_MAX_DEPTH MPFRAME_MAX_DEPTH /* hard ceiling: the one depth limit (mpframe.h) */

typedef enum {
  GUARD_OK = 0,
  GUARD_TOO_LARGE = 1,   /* message bytes / string / element count over a limit */
  GUARD_TOO_DEEP = 2,    /* nesting over max_depth */
  GUARD_MALFORMED = 3,   /* not a msgpack-RPC array, or a reserved byte */
} guard_status_t;

typedef struct guard_limits_s {
  uint32_t max_message; /* bytes */
  uint32_t max_depth;   /* <= GUARD_MAX_DEPTH */
  uint32_t max_elems;   /* per array/map */
} guard_limits_t;

typedef struct guard_s {
  guard_limits_t lim;
  guard_status_t status;
  uint32_t depth;                     /* open containers, 0 = between messages */
  uint32_t rem[GUARD_MAX_DEPTH + 1];  /* elements left in each open container */
  uint32_t top_index;                 /* index of the next element of the outer array */
  uint64_t msg_bytes;                 /* bytes of the current message so far */
  uint64_t skip;                      /* body bytes still to skip */
  uint8_t hdr[9];                     /* a header split across reads */
  uint8_t hdr_have, hdr_need;
  uint8_t capture;                    /* the pending scalar is outer element 0 or 1 */
  int64_t msg_type;                   /* element 0 of the outer array, -1 unknown */
  int64_t msgid;                      /* element 1 when a uint32, -1 unknown */
  uint64_t messages;                  /* complete messages seen */
  uint64_t deferred;                  /* bytes handed over but not scanned yet (guard_defer) */
} guard_t;

void guard_init(guard_t *g, const guard_limits_t *lim);
/* Scan n bytes. Returns GUARD_OK, or the violation. *good_end is set to the offset just past
 * the last message completed within these n bytes (0 if none). */
guard_status_t guard_feed(guard_t *g, const uint8_t *p, size_t n, size_t *good_end);
/* True when the guard is between messages (no partial message pending). */
static inline int guard_idle(const guard_t *g) {
  return g->depth == 0 && g->hdr_need == 0 && g->skip == 0;
}
const char *guard_status_str(guard_status_t s);

/* n more bytes follow the deferred ones, unscanned. */
static inline void guard_defer(guard_t *g, size_t n) { g->deferred += n; }
/* A whole message of n bytes at the start of the deferred bytes, the guard idle, was checked
 * against the limits (mpdecode_request_params): it counts as scanned. */
static inline void guard_take(guard_t *g, size_t n) {
  g->deferred -= n;
  g->messages++;
}
/* Scan the deferred bytes, at p: guard_feed over them (none are deferred afterwards). */
guard_status_t guard_feed_deferred(guard_t *g, const uint8_t *p, size_t *good_end);

#endif
