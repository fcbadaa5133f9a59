/* record.c -- the varint/string record codec of record.h and the small helpers shared by the
 * core modules (id/text validation, store error mapping, pstr copies). No state. */
#include "store/record.h"

#include <stdlib.h>
#include <string.h>

void rec_buf_init(rec_buf_t *b) {
  b->p = NULL;
  b->n = b->cap = 0;
  b->oom = 0;
}

void rec_buf_free(rec_buf_t *b) {
  free(b->p);
  rec_buf_init(b);
}

int rec_buf_grow(rec_buf_t *b, size_t need) {
  if (b->oom) return 0;
  if (b->cap - b->n >= need) return 1;
  size_t cap = b->cap ? b->cap : 128;
  while (cap - b->n < need) {
    if (cap > SIZE_MAX / 2) {
      b->oom = 1;
      return 0;
    }
    cap *= 2;
  }
  unsigned char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return 0;
  }
  b->p = p;
  b->cap = cap;
  return 1;
}

/* A varint of 2..8 bytes from the first 8 bytes at p (little-endian host): the bytes up to
 * the first without its top bit, their 7-bit groups packed together. Returns its length, or 0
 * when all eight bytes continue (a value of 9 or 10 bytes: the caller's loop reads it). */
static inline int uv_swar8(const unsigned char *p, uint64_t *v) {
  uint64_t x;
  memcpy(&x, p, 8);
  uint64_t stop = ~x & UINT64_C(0x8080808080808080); /* bit 7 of each last-byte candidate */
  if (!stop) return 0;
  x &= stop ^ (stop - 1); /* the bytes up to the first stop (their top bits go below) */
  x = (x & UINT64_C(0x007f007f007f007f)) | (x & UINT64_C(0x7f007f007f007f00)) >> 1;
  x = (x & UINT64_C(0x00003fff00003fff)) | (x & UINT64_C(0x3fff00003fff0000)) >> 2;
  x = (x & UINT64_C(0x000000000fffffff)) | (x & UINT64_C(0x0fffffff00000000)) >> 4;
  *v = x;
  return (__builtin_ctzll(stop) >> 3) + 1;
}

uint64_t rec_get_uv(rec_rd_t *r) {
  uint64_t v = 0;
  if (!r->bad && r->end - r->p >= 8) { /* a word can be read */
    const unsigned char *p = r->p;
    if (*p < 0x80) { /* one byte (counts, lengths): no word work */
      r->p = p + 1;
      return *p;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    int len = uv_swar8(p, &v); /* up to 8 bytes (values below 2^56) without a loop */
    if (len) {
      r->p = p + len;
      return v;
    }
#endif
    if (r->end - p >= 10) { /* all ten bytes a varint may take are there: no bounds check
                             * per byte */
      v = 0;
      for (int shift = 0; shift < 63; shift += 7) {
        unsigned c = *p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
          r->p = p;
          return v;
        }
      }
      if (*p <= 1) { /* the tenth byte holds bit 63 only */
        v |= (uint64_t)*p << 63;
        r->p = p + 1;
        return v;
      }
      r->p = p + 1; /* where the loop below stops too */
      r->bad = 1;
      return 0;
    }
    v = 0;
  }
  for (int shift = 0; shift < 70; shift += 7) {
    if (r->bad || r->p >= r->end) break;
    unsigned c = *r->p++;
    if (shift == 63 && c > 1) break; /* overlong / > 64 bits */
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
  r->bad = 1;
  return 0;
}

int64_t rec_get_sv(rec_rd_t *r) { return rec_unzigzag(rec_get_uv_inline(r)); }

/* ---- shared core helpers ---------------------------------------------------------- */

int core_check_id(pstr_t id, const char *field, perr_info_t *e) {
  if (id.n == 0 || !id.p) return perr_set(e, PERR_INVALID_PARAMS, field, "%s is required", field);
  if (id.n > CORE_ID_MAX)
    return perr_set(e, PERR_INVALID_PARAMS, field, "%s longer than %d bytes", field, CORE_ID_MAX);
  if (memchr(id.p, 0, id.n))
    return perr_set(e, PERR_INVALID_PARAMS, field, "%s contains a NUL byte", field);
  return 0;
}

int core_check_text(pstr_t s, size_t max, const char *field, perr_info_t *e) {
  if (s.p && s.n > max)
    return perr_set(e, PERR_INVALID_PARAMS, field, "%s longer than %zu bytes", field, max);
  if (!s.p && s.n)
    return perr_set(e, PERR_INVALID_PARAMS, field, "%s: NULL with non-zero length", field);
  return 0;
}

int core_store_err(store_txn_t *t, int rc, perr_info_t *e) {
  const char *m = store_txn_errmsg(t);
  return perr_set(e, rc, NULL, "%s", (m && *m) ? m : perr_message(rc));
}

int core_corrupt(const char *what, perr_info_t *e) {
  return perr_set(e, PERR_INTERNAL, NULL, "corrupt %s record in the data store", what);
}

int core_pstr_dup(arena_t *a, pstr_t in, pstr_t *out) {
  if (!in.p) {
    out->p = NULL;
    out->n = 0;
    return 0;
  }
  char *p = arena_strndup(a, in.p, in.n);
  if (!p) return -1;
  out->p = p;
  out->n = in.n;
  return 0;
}

