/* mpscan.h -- resumable msgpack frame scanner used by libpatronclient (internal).
 *
 * Owns: finding where one complete msgpack object ends in a growing byte buffer, without
 * allocating and without trusting declared sizes. msgpack-c 4.x allocates room for a
 * container's elements as soon as it sees the header (a 5-byte array32 header reserves
 * gigabytes) and fails with NOMEM beyond 32 nesting levels, so the client only hands
 * msgpack-c frames that this scanner has proven complete, at most max bytes long and at
 * most MPSCAN_MAX_DEPTH deep.
 *
 * Invariants: state only advances over bytes that are present; feeding the same buffer
 * with more bytes appended continues where the last call stopped (any split of the
 * stream gives the same answer); a frame is DONE only when all of it is in the buffer.
 */
#ifndef PATRON_MPSCAN_H
#define PATRON_MPSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "mpframe.h" /* protocol/: the msgpack first-byte table and the one depth limit */

#define MPSCAN_MAX_DEPTH MPFRAME_MAX_DEPTH

enum {
  MPSCAN_MORE = 0,       /* need more bytes */
  MPSCAN_DONE = 1,       /* *frame_len bytes form one complete object */
  MPSCAN_BAD = -1,       /* invalid byte (0xc1) */
  MPSCAN_DEEP = -2,      /* nesting deeper than MPSCAN_MAX_DEPTH */
  MPSCAN_TOO_LARGE = -3  /* the object cannot fit in max bytes */
};

typedef struct mpscan {
  size_t pos;                          /* bytes of the frame consumed so far */
  int depth;                           /* open containers */
  uint64_t left[MPSCAN_MAX_DEPTH];     /* elements still expected per open container */
  uint64_t owed;                       /* elements not yet started: >= 1 byte each */
} mpscan_t;

void mpscan_init(mpscan_t *s);
/* Scan buf[0..len) (the frame starts at buf[0]). */
int mpscan_feed(mpscan_t *s, const uint8_t *buf, size_t len, size_t max, size_t *frame_len);

#endif
