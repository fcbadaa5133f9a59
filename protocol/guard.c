/* guard.c -- see guard.h for the grammar and the limits. One pass, byte-exact, resumable.
 * What a msgpack header is (the first-byte table) is protocol/mpframe's; its decoder is
 * inline, so the common element (a header wholly in this read, a string body wholly in it)
 * costs a few dozen instructions: this runs over every byte of every request. */
#include "guard.h"

#include <string.h>

void guard_init(guard_t *g, const guard_limits_t *lim) {
  memset(g, 0, sizeof *g);
  g->lim = *lim;
  if (g->lim.max_depth == 0 || g->lim.max_depth > GUARD_MAX_DEPTH) g->lim.max_depth = GUARD_MAX_DEPTH;
  g->msg_type = -1;
  g->msgid = -1;
}

const char *guard_status_str(guard_status_t s) {
  switch (s) {
    case GUARD_OK: return "ok";
    case GUARD_TOO_LARGE: return "message exceeds a size limit";
    case GUARD_TOO_DEEP: return "message nesting exceeds the depth limit";
    case GUARD_MALFORMED: return "not a msgpack-RPC message";
  }
  return "?";
}

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* The hot part of the state, held in locals (registers) while guard_feed scans a read and
 * written back to the guard when it returns. */
typedef struct scan_s {
  uint32_t depth;
  uint64_t msg_bytes;
  uint64_t skip;
} scan_t;

/* An element just finished: pop every container it completes. Returns 1 if the whole
 * message is complete. */
static inline int element_done(guard_t *g, scan_t *st) {
  while (st->depth > 0) {
    if (--g->rem[st->depth] > 0) return 0;
    st->depth--;
  }
  return 1;
}

static void message_done(guard_t *g, scan_t *st) {
  g->messages++;
  st->msg_bytes = 0;
  g->msg_type = -1;
  g->msgid = -1;
  g->top_index = 0;
}

/* Note a scalar that is element 0 (type) or 1 (msgid) of the outer array. */
static void capture(guard_t *g, const uint8_t *h) {
  uint8_t b = h[0];
  int64_t v;
  int ok = 1;
  if (b <= 0x7f) v = b;
  else if (b >= 0xe0) v = (int8_t)b;
  else if (b >= 0xcc && b <= 0xce) v = (int64_t)be(h + 1, 1 << (b - 0xcc));
  else if (b == 0xcf) { uint64_t u = be(h + 1, 8); v = u > INT64_MAX ? -1 : (int64_t)u; }
  else if (b >= 0xd0 && b <= 0xd3) v = -1;
  else ok = 0;
  if (!ok) v = -1;
  if (g->top_index == 0) g->msg_type = v;
  else if (v >= 0 && v <= (int64_t)UINT32_MAX) g->msgid = v;
}

/* Process one complete header h of len bytes: open a container, or note a body to skip
 * (st->skip), or end a scalar element (*ends = 1; so does an empty container). */
static inline guard_status_t on_header(guard_t *g, scan_t *st, const uint8_t *h, int len,
                                       int *ends) {
  mpframe_item_t it;
  const uint64_t max = g->lim.max_message;
  *ends = 0;
  st->msg_bytes += (uint64_t)len;
  if (st->msg_bytes > max) return GUARD_TOO_LARGE;

  mpframe_header(h, &it);
  if (st->depth <= 1) {
    if (st->depth == 0) { /* the outer array of a new message */
      if (it.kind != MPFRAME_ARRAY || it.children < 3 || it.children > 4) return GUARD_MALFORMED;
    } else {
      g->top_index = g->rem[0] - g->rem[1];
      if (it.kind == MPFRAME_SCALAR && g->top_index <= 1) capture(g, h);
    }
  }
  if (it.kind >= MPFRAME_ARRAY) {
    uint64_t elems = it.children;
    if (elems > (uint64_t)g->lim.max_elems * (it.kind == MPFRAME_MAP ? 2 : 1))
      return GUARD_TOO_LARGE;
    /* each element needs at least one byte: a header promising more is over the limit */
    if (elems > max - st->msg_bytes) return GUARD_TOO_LARGE;
    if (st->depth + 1 > g->lim.max_depth) return GUARD_TOO_DEEP;
    if (elems > 0) {
      st->depth++;
      g->rem[st->depth] = (uint32_t)elems;
      if (st->depth == 1) g->rem[0] = (uint32_t)elems; /* outer length, for top_index */
      return GUARD_OK;
    }
  } else if (it.body > 0) {
    if (it.body > max - st->msg_bytes) return GUARD_TOO_LARGE;
    st->msg_bytes += it.body;
    st->skip = it.body;
    return GUARD_OK;
  }
  *ends = 1;
  return GUARD_OK;
}

/* The common elements inside params (depth >= 2: no message framing, no capture): a scalar
 * or a fixstr wholly in p[*pi..n), one after the other. Stops at anything else (a container,
 * a longer string, a header or body running past this read) for the general path. */
static inline guard_status_t scan_leaves(guard_t *g, scan_t *st, const uint8_t *p, size_t n,
                                         size_t *pi, size_t *good_end) {
  size_t i = *pi;
  const uint64_t max = g->lim.max_message;
  while (i < n && st->depth >= 2) {
    uint8_t b = p[i];
    size_t len; /* header + body */
    if (b < 0x80 || b >= 0xe0) len = 1;                  /* fixint */
    else if (b >= 0xa0 && b < 0xc0) len = 1 + (b & 0x1fu); /* fixstr */
    else if (b >= 0xc0 && mpframe_lead_c0[b - 0xc0].kind == MPFRAME_SCALAR &&
             mpframe_lead_c0[b - 0xc0].extra >= 0)
      len = 1 + (size_t)mpframe_lead_c0[b - 0xc0].extra; /* nil, bool, int, float */
    else break;
    if (len > n - i) break;
    st->msg_bytes += len;
    if (st->msg_bytes > max) return GUARD_TOO_LARGE;
    i += len;
    if (element_done(g, st)) {
      message_done(g, st);
      *good_end = i;
    }
  }
  *pi = i;
  return GUARD_OK;
}

static guard_status_t feed(guard_t *g, scan_t *st, const uint8_t *p, size_t n,
                           size_t *good_end) {
  size_t i = 0;
  while (i < n) {
    const uint8_t *h;
    int len, ends;
    if (st->depth >= 2 && !st->skip && !g->hdr_need) {
      guard_status_t s = scan_leaves(g, st, p, n, &i, good_end);
      if (s != GUARD_OK) return s;
      if (i == n) break;
    }
    if (st->skip) { /* a body that began in an earlier read */
      size_t k = n - i < st->skip ? n - i : (size_t)st->skip;
      i += k;
      st->skip -= k;
      if (st->skip == 0 && element_done(g, st)) {
        message_done(g, st);
        *good_end = i;
      }
      continue;
    }
    if (g->hdr_need == 0) {
      uint8_t b = p[i];
      int extra = mpframe_header_extra(b);
      if (extra < 0) return GUARD_MALFORMED;
      len = extra + 1;
      if ((size_t)extra < n - i) { /* the whole header is here: no copy */
        h = p + i;
        i += (size_t)len;
      } else {
        if (st->depth == 0 && !((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd))
          return GUARD_MALFORMED; /* not a message: refused before its header completes */
        g->hdr_need = (uint8_t)len;
        g->hdr_have = 0;
        while (i < n) g->hdr[g->hdr_have++] = p[i++];
        continue;
      }
    } else { /* the rest of a header split across reads */
      while (i < n && g->hdr_have < g->hdr_need) g->hdr[g->hdr_have++] = p[i++];
      if (g->hdr_have < g->hdr_need) continue;
      h = g->hdr;
      len = g->hdr_need;
      g->hdr_need = 0;
    }
    guard_status_t s = on_header(g, st, h, len, &ends);
    if (s != GUARD_OK) return s;
    if (st->skip && st->skip <= n - i) { /* the body is wholly in this read */
      i += (size_t)st->skip;
      st->skip = 0;
      ends = 1;
    }
    if (ends && element_done(g, st)) {
      message_done(g, st);
      *good_end = i;
    }
  }
  return GUARD_OK;
}

guard_status_t guard_feed(guard_t *g, const uint8_t *p, size_t n, size_t *good_end) {
  *good_end = 0;
  if (g->status != GUARD_OK) return g->status;
  scan_t st = {g->depth, g->msg_bytes, g->skip};
  g->status = feed(g, &st, p, n, good_end);
  g->depth = st.depth;
  g->msg_bytes = st.msg_bytes;
  g->skip = st.skip;
  return g->status;
}

guard_status_t guard_feed_deferred(guard_t *g, const uint8_t *p, size_t *good_end) {
  size_t n = (size_t)g->deferred;
  g->deferred = 0;
  return guard_feed(g, p, n, good_end);
}
