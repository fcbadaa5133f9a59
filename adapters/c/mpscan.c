/* mpscan.c -- resumable msgpack frame scanner (see mpscan.h for the contract).
 * Invariant: s->owed counts the elements still owed to open containers, not counting a
 * slot whose value (a nested container) is in progress, so pos + owed is an exact lower
 * bound on the frame's size and an oversize container is refused from its header alone. */
#include "mpscan.h"

#include <string.h>

void mpscan_init(mpscan_t *s) { memset(s, 0, sizeof *s); }

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

int mpscan_feed(mpscan_t *s, const uint8_t *buf, size_t len, size_t max, size_t *frame_len) {
  for (;;) {
    if (s->pos >= len) return MPSCAN_MORE;
    const uint8_t *p = buf + s->pos;
    size_t avail = len - s->pos;
    uint8_t b = p[0];
    uint64_t hs = 1;      /* header bytes */
    uint64_t payload = 0; /* bytes after the header */
    uint64_t count = 0;   /* child elements, for containers */
    int container = 0;
    int lenbytes = 0;     /* size of the length field after the type byte */

    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
      /* fixint, nil, bool */
    } else if (b <= 0x8f) {
      container = 1; count = (uint64_t)(b & 0x0f) * 2;
    } else if (b <= 0x9f) {
      container = 1; count = b & 0x0f;
    } else if (b <= 0xbf) {
      payload = b & 0x1f;
    } else {
      switch (b) {
      case 0xc1: return MPSCAN_BAD;
      case 0xc4: case 0xd9: lenbytes = 1; break;              /* bin8, str8 */
      case 0xc5: case 0xda: lenbytes = 2; break;              /* bin16, str16 */
      case 0xc6: case 0xdb: lenbytes = 4; break;              /* bin32, str32 */
      case 0xc7: lenbytes = 1; payload = 1; break;            /* ext8: + type byte */
      case 0xc8: lenbytes = 2; payload = 1; break;            /* ext16 */
      case 0xc9: lenbytes = 4; payload = 1; break;            /* ext32 */
      case 0xca: payload = 4; break;                          /* float32 */
      case 0xcb: payload = 8; break;                          /* float64 */
      case 0xcc: case 0xd0: payload = 1; break;
      case 0xcd: case 0xd1: payload = 2; break;
      case 0xce: case 0xd2: payload = 4; break;
      case 0xcf: case 0xd3: payload = 8; break;
      case 0xd4: payload = 2; break;                          /* fixext1..16: type + data */
      case 0xd5: payload = 3; break;
      case 0xd6: payload = 5; break;
      case 0xd7: payload = 9; break;
      case 0xd8: payload = 17; break;
      case 0xdc: container = 1; lenbytes = 2; break;          /* array16 */
      case 0xdd: container = 1; lenbytes = 4; break;          /* array32 */
      case 0xde: container = 2; lenbytes = 2; break;          /* map16 */
      case 0xdf: container = 2; lenbytes = 4; break;          /* map32 */
      default: return MPSCAN_BAD;
      }
      if (lenbytes) {
        if (avail < 1u + (size_t)lenbytes) {
          if (s->pos + 1 + (uint64_t)lenbytes + (s->depth > 0 ? s->owed - 1 : 0) > max)
            return MPSCAN_TOO_LARGE;
          return MPSCAN_MORE;
        }
        uint64_t n = be(p + 1, lenbytes);
        hs = 1 + (uint64_t)lenbytes;
        if (container == 2) count = n * 2;
        else if (container == 1) count = n;
        else payload += n;
      }
    }
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
