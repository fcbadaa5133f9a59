/* mpscan.c -- resumable msgpack frame scanner (see mpscan.h for the contract). What a header
 * is comes from protocol/mpframe.c, the table the daemon's guard uses too.
 * Invariant: s->owed counts the elements still owed to open containers, not counting a
 * slot whose value (a nested container) is in progress, so pos + owed is an exact lower
 * bound on the frame's size and an oversize container is refused from its header alone. */
#include "mpscan.h"

#include <string.h>

void mpscan_init(mpscan_t *s) { memset(s, 0, sizeof *s); }

int mpscan_feed(mpscan_t *s, const uint8_t *buf, size_t len, size_t max, size_t *frame_len) {
  for (;;) {
    if (s->pos >= len) return MPSCAN_MORE;
    const uint8_t *p = buf + s->pos;
    size_t avail = len - s->pos;
    int extra = mpframe_header_extra(p[0]);
    if (extra < 0) return MPSCAN_BAD;
    uint64_t hs = 1 + (uint64_t)extra; /* header bytes (mpframe.h) */
    if (avail < hs) {
      if (s->pos + hs + (s->depth > 0 ? s->owed - 1 : 0) > max) return MPSCAN_TOO_LARGE;
      return MPSCAN_MORE;
    }
    mpframe_item_t it;
    mpframe_header(p, &it);
    uint64_t payload = it.body;    /* bytes after the header */
    uint64_t count = it.children;  /* child elements, for containers */
    int container = it.kind == MPFRAME_ARRAY || it.kind == MPFRAME_MAP;
    /* Lower bound on the frame: what is consumed, this value, and one byte per element
     * still owed to the enclosing containers except the slot this value fills. */
    uint64_t owed_after = s->depth > 0 ? s->owed - 1 : 0;
    if ((uint64_t)s->pos + hs + payload + count + owed_after > max) return MPSCAN_TOO_LARGE;
    if (hs + payload > avail) return MPSCAN_MORE;
    s->pos += (size_t)(hs + payload);
    if (container && count > 0) {
      if (s->depth >= MPSCAN_MAX_DEPTH) return MPSCAN_DEEP;
      if (s->depth > 0) s->owed--; /* the parent's slot is now in progress */
      s->left[s->depth++] = count;
      s->owed += count;
      continue;
    }
    /* A complete value: close every container it completes. */
    if (s->depth == 0) {
      *frame_len = s->pos;
      return MPSCAN_DONE;
    }
    s->owed--;
    s->left[s->depth - 1]--;
    while (s->left[s->depth - 1] == 0) {
      if (--s->depth == 0) {
        *frame_len = s->pos;
        return MPSCAN_DONE;
      }
      s->left[s->depth - 1]--; /* its slot left owed when the child was opened */
    }
  }
}
