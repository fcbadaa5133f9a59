/* guard.c -- see guard.h for the grammar and the limits. One pass, byte-exact, resumable.
 * What a msgpack header is (the first-byte table) is protocol/mpframe.c's. */
#include "guard.h"

#include <string.h>

void guard_init(guard_t *g, const guard_limits_t *lim) {
  memset(g, 0, sizeof *g);
  g->lim = *lim;
  if (g->lim.max_depth == 0 || g->lim.max_depth > GUARD_MAX_DEPTH) g->lim.max_depth = GUARD_MAX_DEPTH;
  g->msg_type = -1;
  g->msgid = -1;
}

int guard_idle(const guard_t *g) {
  return g->depth == 0 && g->hdr_need == 0 && g->skip == 0;
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

/* An element just finished: pop every container it completes. Returns 1 if the whole
 * message is complete. */
static int element_done(guard_t *g) {
  while (g->depth > 0) {
    if (--g->rem[g->depth] > 0) return 0;
    g->depth--;
  }
  return 1;
}

static void message_done(guard_t *g) {
  g->messages++;
  g->msg_bytes = 0;
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

/* Process one complete header h of len bytes. Returns GUARD_OK and sets *complete when the
 * message ended with this element. */
static guard_status_t on_header(guard_t *g, const uint8_t *h, int len, int *complete) {
  mpframe_item_t it;
  *complete = 0;
  g->msg_bytes += (uint64_t)len;
  if (g->msg_bytes > g->lim.max_message) return GUARD_TOO_LARGE;

  mpframe_header(h, &it);
  int container = it.kind == MPFRAME_ARRAY || it.kind == MPFRAME_MAP;
  int is_map = it.kind == MPFRAME_MAP;
  uint64_t body = it.body, elems = it.children;

  if (g->depth == 0) {
    /* the outer array of a new message */
    if (!container || is_map || elems < 3 || elems > 4)
      return GUARD_MALFORMED;
  } else if (g->depth == 1) {
    g->top_index = g->rem[0] - g->rem[1];
    if (!container && body == 0 && g->top_index <= 1) capture(g, h);
  }

  if (container) {
    if (elems > (uint64_t)g->lim.max_elems * (is_map ? 2 : 1))
      return GUARD_TOO_LARGE;
    /* each element needs at least one byte: a header promising more is over the limit */
    if (elems > g->lim.max_message - g->msg_bytes) return GUARD_TOO_LARGE;
    if (g->depth + 1 > g->lim.max_depth) return GUARD_TOO_DEEP;
    if (elems > 0) {
      g->depth++;
      g->rem[g->depth] = (uint32_t)elems;
      if (g->depth == 1) g->rem[0] = (uint32_t)elems; /* outer length, for top_index */
      return GUARD_OK;
    }
  } else if (body > 0) {
    if (body > g->lim.max_message - g->msg_bytes) return GUARD_TOO_LARGE;
    g->msg_bytes += body;
    g->skip = body;
    return GUARD_OK;
  }
  *complete = element_done(g);
  return GUARD_OK;
}

guard_status_t guard_feed(guard_t *g, const uint8_t *p, size_t n, size_t *good_end) {
  size_t i = 0;
  int complete;
  *good_end = 0;
  if (g->status != GUARD_OK) return g->status;
  while (i < n) {
    if (g->skip) {
      size_t k = n - i < g->skip ? n - i : (size_t)g->skip;
      i += k;
      g->skip -= k;
      if (g->skip == 0 && element_done(g)) {
        message_done(g);
        *good_end = i;
      }
      continue;
    }
    if (g->hdr_need == 0) {
      int extra = mpframe_header_extra(p[i]);
      if (extra < 0) return g->status = GUARD_MALFORMED;
      if (g->depth == 0 && !((p[i] >= 0x90 && p[i] <= 0x9f) || p[i] == 0xdc || p[i] == 0xdd))
        return g->status = GUARD_MALFORMED;
      if ((size_t)extra < n - i) { /* the whole header is here: no copy */
        guard_status_t s = on_header(g, p + i, extra + 1, &complete);
        if (s != GUARD_OK) return g->status = s;
        i += (size_t)extra + 1;
        if (complete) {
          message_done(g);
          *good_end = i;
        }
        continue;
      }
      g->hdr_need = (uint8_t)(extra + 1);
      g->hdr_have = 0;
    }
    while (i < n && g->hdr_have < g->hdr_need) g->hdr[g->hdr_have++] = p[i++];
    if (g->hdr_have == g->hdr_need) {
      int len = g->hdr_need;
      g->hdr_need = 0;
      guard_status_t s = on_header(g, g->hdr, len, &complete);
      if (s != GUARD_OK) return g->status = s;
      if (complete) {
        message_done(g);
        *good_end = i;
      }
    }
  }
  return GUARD_OK;
}
