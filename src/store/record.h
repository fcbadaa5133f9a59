/* record.h -- Patron's compact binary record encoding and the helpers the core modules
 * (catalog.c, customers.c, orders.c) share. Private to src/: the protocol layer never sees it.
 *
 * Encoding: unsigned LEB128 varints (at most 10 bytes, no overlong 10th byte), signed values
 * zigzag-encoded, strings as varint length + bytes, optional strings as varint (len + 1) with
 * 0 = absent. Every record starts with a type tag byte and a version byte.
 * Invariants: writers never fail midway (an allocation failure is sticky in rec_buf_t.oom and
 * checked once at the end); readers never read past the end (errors are sticky in
 * rec_rd_t.bad, and every getter returns 0/empty once bad). */
#ifndef PATRON_RECORD_H
#define PATRON_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "commerce/commerce.h"

typedef struct rec_buf_s {
  unsigned char *p;
  size_t n, cap;
  int oom;
} rec_buf_t;

void rec_buf_init(rec_buf_t *b);
void rec_buf_free(rec_buf_t *b);
/* Room for need more bytes (grown geometrically): 1, or 0 once out of memory (sticky). A
 * writer that knows its size calls it first, so that the puts below never reallocate. */
int rec_buf_grow(rec_buf_t *b, size_t need);

/* The writers are inline: a record is hundreds of them, each a capacity check and a store. */
static inline int rec_room(rec_buf_t *b, size_t need) {
  return !b->oom && b->cap - b->n >= need ? 1 : rec_buf_grow(b, need);
}
static inline void rec_put_u8(rec_buf_t *b, unsigned v) {
  if (rec_room(b, 1)) b->p[b->n++] = (unsigned char)v;
}
static inline void rec_put_uv(rec_buf_t *b, uint64_t v) {
  if (!rec_room(b, 10)) return;
  while (v >= 0x80) {
    b->p[b->n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  b->p[b->n++] = (unsigned char)v;
}
static inline void rec_put_sv(rec_buf_t *b, int64_t v) {
  uint64_t u = (uint64_t)v;
  rec_put_uv(b, (u << 1) ^ (v < 0 ? ~UINT64_C(0) : 0));
}
static inline void rec_put_raw(rec_buf_t *b, const void *p, size_t n) {
  if (n && rec_room(b, n)) {
    __builtin_memcpy(b->p + b->n, p, n);
    b->n += n;
  }
}
static inline void rec_put_str(rec_buf_t *b, pstr_t s) {
  rec_put_uv(b, s.n);
  rec_put_raw(b, s.p, s.n);
}
static inline void rec_put_optstr(rec_buf_t *b, pstr_t s) { /* absent when s.p == NULL */
  if (!s.p) {
    rec_put_uv(b, 0);
    return;
  }
  rec_put_uv(b, (uint64_t)s.n + 1);
  rec_put_raw(b, s.p, s.n);
}

typedef struct rec_rd_s {
  const unsigned char *p, *end;
  int bad;
} rec_rd_t;

/* The small readers are inline (a decoder on a request's path makes dozens of calls). */
static inline void rec_rd_init(rec_rd_t *r, const void *p, size_t n) {
  r->p = p;
  r->end = r->p + n;
  r->bad = (p == NULL && n != 0);
}
static inline unsigned rec_get_u8(rec_rd_t *r) {
  if (r->bad || r->p >= r->end) {
    r->bad = 1;
    return 0;
  }
  return *r->p++;
}
uint64_t rec_get_uv(rec_rd_t *r);
int64_t rec_get_sv(rec_rd_t *r);
/* 1 when everything was read and nothing is left over. */
static inline int rec_rd_done(const rec_rd_t *r) { return !r->bad && r->p == r->end; }
/* rec_get_uv / rec_get_sv with a one-byte value (< 128) read inline, without a call: the same
 * value and the same errors (anything else goes through rec_get_uv). For decoders on a
 * request's path that read dozens of small numbers a record. */
static inline uint64_t rec_get_uv_inline(rec_rd_t *r) {
  if (!r->bad && r->p < r->end && *r->p < 0x80) return *r->p++;
  return rec_get_uv(r);
}
/* Skip one varint: the position and the sticky error rec_get_uv leaves, its value not
 * assembled (one byte; else a terminator in the next 8 bytes found with one mask, or the
 * record's last bytes scanned; else rec_get_uv). */
static inline void rec_skip_uv(rec_rd_t *r) {
  if (r->bad) return;
  if (r->p < r->end && *r->p < 0x80) { /* one byte, as most are */
    r->p++;
    return;
  }
  if (r->end - r->p < 8) { /* a record's tail: a varint here is at most 7 bytes, so the one
                            * error is a cut one */
    for (const unsigned char *p = r->p; p < r->end; p++)
      if (!(*p & 0x80)) {
        r->p = p + 1;
        return;
      }
    r->p = r->end;
    r->bad = 1;
    return;
  }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t x;
  __builtin_memcpy(&x, r->p, 8);
  uint64_t stop = ~x & UINT64_C(0x8080808080808080);
  if (stop) {
    r->p += (__builtin_ctzll(stop) >> 3) + 1;
    return;
  }
#endif
  (void)rec_get_uv(r);
}
/* Strings point into the record buffer (not NUL-terminated). */
static inline pstr_t rec_get_bytes(rec_rd_t *r, uint64_t n) {
  pstr_t s = {NULL, 0};
  if (r->bad || n > (uint64_t)(r->end - r->p)) {
    r->bad = 1;
    return s;
  }
  s.p = (const char *)r->p;
  s.n = (size_t)n;
  r->p += n;
  return s;
}
static inline pstr_t rec_get_str(rec_rd_t *r) {
  uint64_t n = rec_get_uv_inline(r);
  pstr_t s = rec_get_bytes(r, n);
  if (!s.p && !r->bad) s.p = "";
  return s;
}
static inline pstr_t rec_get_optstr(rec_rd_t *r) {
  uint64_t n = rec_get_uv_inline(r);
  pstr_t none = {NULL, 0};
  if (r->bad || n == 0) return none;
  return rec_get_bytes(r, n - 1);
}
/* A count that must be <= max (and plausible for the bytes left: every counted item takes
 * at least one byte); bad otherwise. */
static inline size_t rec_get_count(rec_rd_t *r, size_t max) {
  uint64_t n = rec_get_uv_inline(r);
  if (r->bad || n > max || n > (uint64_t)(r->end - r->p)) {
    r->bad = 1;
    return 0;
  }
  return (size_t)n;
}
/* A signed value from its zig-zag encoding (rec_put_sv's). */
static inline int64_t rec_unzigzag(uint64_t u) { return (int64_t)((u >> 1) ^ (~(u & 1) + 1)); }
static inline int64_t rec_get_sv_inline(rec_rd_t *r) { return rec_unzigzag(rec_get_uv_inline(r)); }

/* ---- shared core helpers ---------------------------------------------------------- */

/* id: 1..CORE_ID_MAX bytes, no NUL byte (NUL separates key parts). */
int core_check_id(pstr_t id, const char *field, perr_info_t *e);
/* optional text: absent (p == NULL) or at most max bytes. */
int core_check_text(pstr_t s, size_t max, const char *field, perr_info_t *e);
/* The static NUL-terminated copy of an active ISO-4217 code, or NULL. */
const char *core_currency_static(pstr_t code);
/* Turn a failed store call into a structured error (message from the txn). */
int core_store_err(store_txn_t *t, int rc, perr_info_t *e);
int core_corrupt(const char *what, perr_info_t *e);
/* Copy into the arena (NULL-pointer pstr stays absent). 0 on success, -1 out of memory. */
int core_pstr_dup(arena_t *a, pstr_t in, pstr_t *out);
static inline int core_pstr_eq(pstr_t a, pstr_t b) {
  return a.n == b.n && (a.n == 0 || (a.p[0] == b.p[0] && __builtin_memcmp(a.p, b.p, a.n) == 0));
}
static inline pstr_t core_pstr(const char *s, size_t n) {
  pstr_t r = {s, n};
  return r;
}

/* Overflow-checked int64 arithmetic: 1 ok, 0 overflow. */
static inline int ck_add(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_add_overflow(a, b, r);
}
static inline int ck_sub(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_sub_overflow(a, b, r);
}
static inline int ck_mul(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_mul_overflow(a, b, r);
}

/* ---- the customer record (customers.c), shared with orders.c ------------------------ */

typedef struct cust_totals_s {
  char currency[4];
  int64_t orders, gross, refunded;
} cust_totals_t;

typedef struct cust_rec_s {
  int known;
  pstr_t email, name; /* optional */
  int64_t created_at, updated_at;
  int64_t first_order_at, last_order_at, order_count, refund_count;
  size_t ntotals;
  cust_totals_t totals[CORE_MAX_CURRENCIES];
  size_t nlast;
  pstr_t last[CORE_LAST_PRODUCTS]; /* most recent first, distinct */
  int64_t last_ts[CORE_LAST_PRODUCTS]; /* newest order ts that contained last[i] */
} cust_rec_t;

/* Load the customer row; strings copied into a. PERR_NOT_FOUND (e not set) if absent. With
 * a == NULL the strings point into the store: valid only until the next write in t. */
int core_cust_load(store_txn_t *t, pstr_t id, arena_t *a, cust_rec_t *c, perr_info_t *e);
void core_cust_encode(rec_buf_t *b, const cust_rec_t *c);
/* Index of currency cur in c->totals, or -1. */
int core_cust_find_currency(const cust_rec_t *c, const char *cur);

/* Building a customer's last-products list: add candidates (distinct ids, each keeps its
 * newest ts), then store the CORE_LAST_PRODUCTS newest into c (ties keep insertion order);
 * strings are copied into a when a is not NULL, else they must outlive c. */
typedef struct core_last_acc_s {
  pstr_t ids[3 * CORE_LAST_PRODUCTS];
  int64_t ts[3 * CORE_LAST_PRODUCTS];
  uint32_t tag[3 * CORE_LAST_PRODUCTS]; /* length and 3 bytes of ids[i]: equal ids, equal tags */
  size_t n;
} core_last_acc_t;
void core_last_acc_add(core_last_acc_t *l, pstr_t id, int64_t ts);
int core_last_acc_store(core_last_acc_t *l, cust_rec_t *c, arena_t *a);

/* Order records (orders.c owns the format; scanners read it too). core_ord_rec_open checks the
 * tags, sets *canon to the canonical order and leaves rd just after it (at ts);
 * core_ord_canon_open positions c at the canonical order's customer_id. -1 when corrupt. */
int core_ord_rec_open(const void *v, size_t n, rec_rd_t *rd, pstr_t *canon);
int core_ord_canon_open(pstr_t canon, rec_rd_t *c);

#endif
