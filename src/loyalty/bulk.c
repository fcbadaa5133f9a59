/* bulk.c -- passes over every member in key order: expiry processing (what a write would do
 * first: due expire entries and tier reviews) and re-evaluation after a program change. A
 * pass reads a chunk of summaries with a cursor, closes it, then rewrites only the members
 * whose summary changed (so no cursor is open while the table is written), and stops after
 * `limit` members so the daemon can spread a long pass over several write txns.
 * Invariant: running a pass twice at the same `now` writes nothing the second time. */
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

#define LOY_CHUNK 4096

typedef struct chunk_s {
  unsigned char *buf; /* keys and values, back to back */
  size_t n, cap;
  size_t *off; /* per member: key offset, key len, value offset, value len */
  size_t count;
} chunk_t;

static int chunk_add(chunk_t *c, const void *k, size_t kn, const void *v, size_t vn) {
  if (c->n + kn + vn > c->cap) {
    size_t cap = c->cap ? c->cap : 1 << 20;
    while (cap < c->n + kn + vn) cap *= 2;
    unsigned char *nb = realloc(c->buf, cap);
    if (!nb) return -1;
    c->buf = nb;
    c->cap = cap;
  }
  size_t *o = &c->off[c->count * 4];
  o[0] = c->n;
  o[1] = kn;
  memcpy(c->buf + c->n, k, kn);
  c->n += kn;
  o[2] = c->n;
  o[3] = vn;
  memcpy(c->buf + c->n, v, vn);
  c->n += vn;
  c->count++;
  return 0;
}

/* Read up to want members after `after` (key order). */
static int chunk_read(store_txn_t *t, const char *after, size_t alen, size_t want, chunk_t *c,
                      int *end, perr_info_t *e) {
  c->n = c->count = 0;
  *end = 0;
  store_cursor_t *cur;
  int rc = store_cursor_open(t, STORE_T_LOY_MEMBERS, after, alen, &cur);
  if (rc) return core_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  while (c->count < want && (rc = store_cursor_next(cur, &k, &kn, &v, &vn)) == 1) {
    if (alen && kn == alen && memcmp(k, after, alen) == 0) continue;
    if (chunk_add(c, k, kn, v, vn)) {
      store_cursor_close(cur);
      return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    }
  }
  store_cursor_close(cur);
  if (rc < 0) return core_store_err(t, rc, e);
  if (rc == 0) *end = 1;
  return 0;
}

static int walk(store_txn_t *w, int64_t now, pstr_t after, size_t limit, int reeval,
                loy_pass_moves_t *moves, loy_batch_result_t *r, perr_info_t *e) {
  memset(r, 0, sizeof *r);
  if (moves) {
    moves->n = 0;
    moves->more = 0;
  }
  if (after.n > CORE_ID_MAX) return perr_set(e, PERR_INVALID_PARAMS, "after", "after too long");
  loy_program_t *p = malloc(sizeof *p);
  chunk_t c = {0};
  c.off = malloc(LOY_CHUNK * 4 * sizeof *c.off);
  loy_member_t m;
  loy_fx_t fx;
  rec_buf_t b;
  memset(&m, 0, sizeof m);
  memset(&fx, 0, sizeof fx);
  rec_buf_init(&b);
  int rc = 0;
  if (!p || !c.off) rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  if (!rc) {
    rc = loy_program_load(w, p, e);
    if (rc == PERR_NOT_FOUND) { /* nothing to apply */
      r->done = 1;
      rc = 0;
      goto out;
    }
  }
  char pos[CORE_ID_MAX];
  size_t plen = after.n;
  if (plen) memcpy(pos, after.p, plen);
  int end = 0;
  while (!rc && !end && (!limit || r->members < limit)) {
    size_t want = LOY_CHUNK;
    if (limit && limit - r->members < want) want = (size_t)(limit - r->members);
    if ((rc = chunk_read(w, pos, plen, want, &c, &end, e))) break;
    for (size_t i = 0; i < c.count && !rc; i++) {
      const size_t *o = &c.off[i * 4];
      const void *k = c.buf + o[0], *v = c.buf + o[2];
      memcpy(m.id, k, o[1]);
      m.id[o[1]] = 0;
      m.idn = o[1];
      if (loy_member_decode(v, o[3], &m)) {
        rc = core_corrupt("loyalty member", e);
        break;
      }
      loy_fx_reset(&fx);
      loy_advance(p, &m, now, &fx);
      if (reeval) loy_reevaluate_member(p, &m, now, &fx);
      b.n = 0;
      loy_member_encode(&b, &m);
      r->members++;
      if (b.n != o[3] || memcmp(b.p, v, b.n) != 0) {
        r->changed++;
        r->entries += fx.entries.n;
        r->tier_changes += fx.changes.n;
        rc = loy_flush(w, &m, &fx, e);
        for (size_t k = 0; !rc && moves && k < fx.changes.n; k++) {
          if (moves->n == moves->max) {
            moves->more = 1;
            break;
          }
          loy_pass_move_t *mv = &moves->items[moves->n++];
          memcpy(mv->customer_id, m.id, m.idn + 1);
          mv->change = fx.changes.p[k];
        }
      }
    }
    if (c.count) {
      const size_t *o = &c.off[(c.count - 1) * 4];
      plen = o[1];
      memcpy(pos, c.buf + o[0], plen);
    }
  }
  if (!rc) {
    r->done = end;
    memcpy(r->next, pos, plen);
    r->next_len = plen;
  }
out:
  rec_buf_free(&b);
  loy_member_free(&m);
  loy_fx_free(&fx);
  free(c.buf);
  free(c.off);
  free(p);
  return rc;
}

int loyalty_pass(store_txn_t *w, int64_t now, int reevaluate, pstr_t after, size_t limit,
                 loy_pass_moves_t *moves, loy_batch_result_t *r, perr_info_t *e) {
  return walk(w, now, after, limit, reevaluate != 0, moves, r, e);
}

int loyalty_expire_run(store_txn_t *w, int64_t now, pstr_t after, size_t limit,
                       loy_batch_result_t *r, perr_info_t *e) {
  return walk(w, now, after, limit, 0, NULL, r, e);
}

int loyalty_reevaluate(store_txn_t *w, int64_t now, pstr_t after, size_t limit,
                       loy_batch_result_t *r, perr_info_t *e) {
  return walk(w, now, after, limit, 1, NULL, r, e);
}
