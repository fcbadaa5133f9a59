/* rekey.c -- loy_customer_rekey (loyalty.h): a member's rows move from one customer id to
 * another in the caller's write txn, for customer.forget. Rows keyed by the id: LOY_MEMBERS
 * (id), LOY_LEDGER and LOY_TIER_HIST (id \0 be64), LOY_TIER_IDX (tier \0 id). Values are
 * copied unchanged (none of them holds the id). LOY_KEYS answer rows of kinds o, d, a, j
 * (keyed by order, redemption, award or adjust key) name the customer right after their tag
 * and version: those naming `from` are rewritten to name `to`; finding them reads every
 * LOY_KEYS row (O(keys): customer.forget is a rare admin call). */
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

typedef struct kv_s {
  rec_buf_t old_k, new_k, v; /* new_k empty: v replaces the value under old_k */
} kv_t;

typedef struct rows_s {
  kv_t *v;
  size_t n, cap;
  int oom;
} rows_t;

/* A new row with empty buffers, or NULL (rows->oom set). */
static kv_t *rows_push(rows_t *rows) {
  if (rows->n == rows->cap) {
    size_t nc = rows->cap ? rows->cap * 2 : 16;
    kv_t *nv = realloc(rows->v, nc * sizeof *nv);
    if (!nv) {
      rows->oom = 1;
      return NULL;
    }
    rows->v = nv;
    rows->cap = nc;
  }
  kv_t *r = &rows->v[rows->n++];
  rec_buf_init(&r->old_k);
  rec_buf_init(&r->new_k);
  rec_buf_init(&r->v);
  return r;
}

/* Write the collected rows (unless err: the scan failed) and free them. */
static int rows_apply(store_txn_t *w, store_table_t tb, rows_t *rows, int err, uint64_t *moved,
                      perr_info_t *e) {
  for (size_t i = 0; i < rows->n; i++) {
    kv_t *r = &rows->v[i];
    if (!err && (r->old_k.oom || r->new_k.oom || r->v.oom))
      err = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    if (!err) {
      int s = 0;
      const rec_buf_t *k = &r->old_k;
      if (r->new_k.n) {
        s = store_del(w, tb, r->old_k.p, r->old_k.n);
        k = &r->new_k;
      }
      if (!s) s = store_put(w, tb, k->p, k->n, r->v.p, r->v.n);
      if (s) err = core_store_err(w, s, e);
      else (*moved)++;
    }
    rec_buf_free(&r->old_k);
    rec_buf_free(&r->new_k);
    rec_buf_free(&r->v);
  }
  free(rows->v);
  return err;
}

static int scan_err(store_txn_t *w, const rows_t *rows, int rc, perr_info_t *e) {
  if (rows->oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  return rc < 0 ? core_store_err(w, rc, e) : 0;
}

/* Move every row of tb whose key starts with from \0 to to \0 + the same suffix. */
static int move_prefix(store_txn_t *w, store_table_t tb, pstr_t from, pstr_t to, uint64_t *moved,
                       perr_info_t *e) {
  rec_buf_t pre;
  rec_buf_init(&pre);
  rec_put_raw(&pre, from.p, from.n);
  rec_put_u8(&pre, 0);
  if (pre.oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  store_cursor_t *c;
  int rc = store_cursor_open(w, tb, pre.p, pre.n, &c);
  if (rc) {
    rec_buf_free(&pre);
    return core_store_err(w, rc, e);
  }
  rows_t rows = {0};
  const void *k, *v;
  size_t kn, vn;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    if (kn < pre.n || memcmp(k, pre.p, pre.n)) {
      rc = 0;
      break;
    }
    kv_t *r = rows_push(&rows);
    if (!r) break;
    rec_put_raw(&r->old_k, k, kn);
    rec_put_raw(&r->new_k, to.p, to.n);
    rec_put_u8(&r->new_k, 0);
    rec_put_raw(&r->new_k, (const char *)k + pre.n, kn - pre.n);
    rec_put_raw(&r->v, v, vn);
  }
  store_cursor_close(c);
  rec_buf_free(&pre);
  return rows_apply(w, tb, &rows, scan_err(w, &rows, rc, e), moved, e);
}

/* The LOY_KEYS answers that name `from` (tag, version, str customer, rest) name `to`. */
static int rewrite_answers(store_txn_t *w, pstr_t from, pstr_t to, uint64_t *moved,
                           perr_info_t *e) {
  store_cursor_t *c;
  int rc = store_cursor_open(w, STORE_T_LOY_KEYS, NULL, 0, &c);
  if (rc) return core_store_err(w, rc, e);
  rows_t rows = {0};
  const void *k, *v;
  size_t kn, vn;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    if (!kn || !strchr("odaj", *(const char *)k)) continue;
    rec_rd_t rd;
    rec_rd_init(&rd, v, vn);
    unsigned tag = rec_get_u8(&rd), ver = rec_get_u8(&rd);
    pstr_t cust = rec_get_str(&rd);
    if (rd.bad || !core_pstr_eq(cust, from)) continue;
    kv_t *r = rows_push(&rows);
    if (!r) break;
    rec_put_raw(&r->old_k, k, kn);
    rec_put_u8(&r->v, tag);
    rec_put_u8(&r->v, ver);
    rec_put_str(&r->v, to);
    rec_put_raw(&r->v, rd.p, (size_t)(rd.end - rd.p));
  }
  store_cursor_close(c);
  return rows_apply(w, STORE_T_LOY_KEYS, &rows, scan_err(w, &rows, rc, e), moved, e);
}

int loy_customer_rekey(store_txn_t *w, pstr_t from, pstr_t to, uint64_t *moved, perr_info_t *e) {
  *moved = 0;
  const void *v;
  size_t vn;
  int rc = store_get(w, STORE_T_LOY_MEMBERS, from.p, from.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return 0; /* not a member */
  if (rc) return core_store_err(w, rc, e);
  loy_member_t m;
  memset(&m, 0, sizeof m);
  if (loy_member_decode(v, vn, &m)) {
    loy_member_free(&m);
    return core_corrupt("loyalty member", e);
  }
  char tier[LOY_NAME_MAX + 1];
  memcpy(tier, m.tier, sizeof tier);
  loy_member_free(&m);
  rec_buf_t val, ok, nk;
  rec_buf_init(&val);
  rec_buf_init(&ok);
  rec_buf_init(&nk);
  rec_put_raw(&val, v, vn);
  size_t tn = strlen(tier);
  rec_put_raw(&ok, tier, tn);
  rec_put_u8(&ok, 0);
  rec_put_raw(&nk, ok.p, ok.n);
  rec_put_raw(&ok, from.p, from.n);
  rec_put_raw(&nk, to.p, to.n);
  if (val.oom || ok.oom || nk.oom) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto out;
  }
  if ((rc = store_del(w, STORE_T_LOY_MEMBERS, from.p, from.n)) ||
      (rc = store_put(w, STORE_T_LOY_MEMBERS, to.p, to.n, val.p, val.n))) {
    rc = core_store_err(w, rc, e);
    goto out;
  }
  (*moved)++;
  rc = store_del(w, STORE_T_LOY_TIER_IDX, ok.p, ok.n);
  if (!rc || rc == PERR_NOT_FOUND) rc = store_put(w, STORE_T_LOY_TIER_IDX, nk.p, nk.n, "", 0);
  if (rc) {
    rc = core_store_err(w, rc, e);
    goto out;
  }
  rc = move_prefix(w, STORE_T_LOY_LEDGER, from, to, moved, e);
  if (!rc) rc = move_prefix(w, STORE_T_LOY_TIER_HIST, from, to, moved, e);
  if (!rc) rc = rewrite_answers(w, from, to, moved, e);
out:
  rec_buf_free(&val);
  rec_buf_free(&ok);
  rec_buf_free(&nk);
  return rc;
}
