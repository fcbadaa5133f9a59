/* feedback.c -- see feedback.h. Owns the FEEDBACK rows and their AUX index rows.
 * Record: 'F' 1 | str canon | sv ts (effective) | sv recorded_at
 * canon:  'f' 1 | str customer_id | u8 kind | sv score | sv ts_sent
 * Index:  AUX "fb/c" \0 customer_id \0 feedback_id -> "" */
#include "commerce/feedback.h"

#include <stdlib.h>
#include <string.h>

#include "store/record.h"

int feedback_kind_from_name(const char *s, size_t n) {
  if (n == 3 && memcmp(s, "nps", 3) == 0) return FEEDBACK_NPS;
  if (n == 4 && memcmp(s, "csat", 4) == 0) return FEEDBACK_CSAT;
  return -1;
}

const char *feedback_kind_name(int kind) {
  return kind == FEEDBACK_NPS ? "nps" : kind == FEEDBACK_CSAT ? "csat" : "unknown";
}

static void canon(rec_buf_t *b, const feedback_t *f) {
  rec_put_u8(b, 'f');
  rec_put_u8(b, 1);
  rec_put_str(b, f->customer_id);
  rec_put_u8(b, (unsigned)f->kind);
  rec_put_sv(b, f->score);
  rec_put_sv(b, f->ts);
}

void feedback_index_key(rec_buf_t *b, pstr_t customer, pstr_t feedback_id) {
  rec_put_raw(b, FEEDBACK_INDEX_PREFIX, sizeof FEEDBACK_INDEX_PREFIX); /* with its NUL */
  rec_put_raw(b, customer.p, customer.n);
  rec_put_u8(b, 0);
  rec_put_raw(b, feedback_id.p, feedback_id.n);
}

/* Parse a record: canon and the effective ts / recorded_at; -1 if malformed. */
static int parse(const void *v, size_t n, pstr_t *cn, feedback_t *f, int64_t *ts_eff,
                 int64_t *recorded_at) {
  rec_rd_t rd, c;
  rec_rd_init(&rd, v, n);
  if (rec_get_u8(&rd) != 'F' || rec_get_u8(&rd) != 1) return -1;
  *cn = rec_get_str(&rd);
  *ts_eff = rec_get_sv(&rd);
  *recorded_at = rec_get_sv(&rd);
  if (!rec_rd_done(&rd)) return -1;
  rec_rd_init(&c, cn->p, cn->n);
  if (rec_get_u8(&c) != 'f' || rec_get_u8(&c) != 1) return -1;
  f->customer_id = rec_get_str(&c);
  f->kind = (int)rec_get_u8(&c);
  f->score = rec_get_sv(&c);
  f->ts = rec_get_sv(&c);
  return rec_rd_done(&c) ? 0 : -1;
}

int feedback_rewrite_customer(const void *v, size_t n, pstr_t customer, rec_buf_t *out) {
  pstr_t cn;
  feedback_t f;
  int64_t ts, rec_at;
  if (parse(v, n, &cn, &f, &ts, &rec_at)) return -1;
  rec_buf_t c;
  rec_buf_init(&c);
  f.customer_id = customer;
  canon(&c, &f);
  rec_put_u8(out, 'F');
  rec_put_u8(out, 1);
  rec_put_str(out, core_pstr((const char *)c.p, c.n));
  rec_put_sv(out, ts);
  rec_put_sv(out, rec_at);
  int bad = c.oom || out->oom;
  rec_buf_free(&c);
  return bad ? -1 : 0;
}

static int validate(const feedback_t *f, perr_info_t *e) {
  int rc;
  if ((rc = core_check_id(f->feedback_id, "feedback_id", e))) return rc;
  if ((rc = core_check_id(f->customer_id, "customer_id", e))) return rc;
  if (f->kind == FEEDBACK_NPS) {
    if (f->score < 0 || f->score > 10)
      return perr_set(e, PERR_INVALID_PARAMS, "score", "an nps score is 0..10");
  } else if (f->kind == FEEDBACK_CSAT) {
    if (f->score < 1 || f->score > 5)
      return perr_set(e, PERR_INVALID_PARAMS, "score", "a csat score is 1..5");
  } else {
    return perr_set(e, PERR_INVALID_PARAMS, "kind", "kind must be nps or csat");
  }
  if (f->ts < 0) return perr_set(e, PERR_INVALID_PARAMS, "ts", "ts must be >= 0");
  return 0;
}

int core_feedback_record(store_txn_t *t, const feedback_t *f, int64_t now, feedback_result_t *r,
                         perr_info_t *e) {
  int rc = validate(f, e);
  if (rc) return rc;
  rec_buf_t cb, rb, kb;
  rec_buf_init(&cb);
  rec_buf_init(&rb);
  rec_buf_init(&kb);
  canon(&cb, f);
  const void *v;
  size_t vn;
  rc = store_get(t, STORE_T_FEEDBACK, f->feedback_id.p, f->feedback_id.n, &v, &vn);
  if (rc == 0) {
    pstr_t old;
    feedback_t of;
    int64_t ts, at;
    if (parse(v, vn, &old, &of, &ts, &at)) rc = core_corrupt("feedback", e);
    else if (cb.oom) rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    else if (old.n != cb.n || memcmp(old.p, cb.p, cb.n) != 0)
      rc = perr_set(e, PERR_CONFLICT, "feedback_id",
                    "feedback_id already recorded with different content");
    else r->created = 0;
    goto out;
  }
  if (rc != PERR_NOT_FOUND) {
    rc = core_store_err(t, rc, e);
    goto out;
  }
  rec_put_u8(&rb, 'F');
  rec_put_u8(&rb, 1);
  rec_put_str(&rb, core_pstr((const char *)cb.p, cb.n));
  rec_put_sv(&rb, f->ts ? f->ts : now);
  rec_put_sv(&rb, now);
  feedback_index_key(&kb, f->customer_id, f->feedback_id);
  if (cb.oom || rb.oom || kb.oom) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto out;
  }
  if ((rc = store_put(t, STORE_T_FEEDBACK, f->feedback_id.p, f->feedback_id.n, rb.p, rb.n)) ||
      (rc = store_put(t, STORE_T_AUX, kb.p, kb.n, "", 0))) {
    rc = core_store_err(t, rc, e);
    goto out;
  }
  r->created = 1;
out:
  rec_buf_free(&cb);
  rec_buf_free(&rb);
  rec_buf_free(&kb);
  return rc;
}

int core_feedback_get(store_txn_t *t, pstr_t id, arena_t *a, feedback_t *out, perr_info_t *e) {
  const void *v;
  size_t vn;
  int rc = store_get(t, STORE_T_FEEDBACK, id.p, id.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, "feedback_id", "unknown feedback");
  if (rc) return core_store_err(t, rc, e);
  pstr_t cn;
  int64_t ts, at;
  if (parse(v, vn, &cn, out, &ts, &at)) return core_corrupt("feedback", e);
  out->ts = ts;
  if (core_pstr_dup(a, out->customer_id, &out->customer_id) ||
      core_pstr_dup(a, id, &out->feedback_id))
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  return 0;
}

int core_feedback_list(store_txn_t *t, feedback_row_t **out, size_t *n, perr_info_t *e) {
  *out = NULL;
  *n = 0;
  store_cursor_t *c;
  int rc = store_cursor_open(t, STORE_T_FEEDBACK, "", 0, &c);
  if (rc) return core_store_err(t, rc, e);
  size_t cap = 0, cnt = 0;
  feedback_row_t *rows = NULL;
  const void *k, *v;
  size_t kn, vn;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    pstr_t cn;
    feedback_t f;
    int64_t ts, at;
    if (parse(v, vn, &cn, &f, &ts, &at)) {
      rc = core_corrupt("feedback", e);
      goto fail;
    }
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 256;
      feedback_row_t *nr = realloc(rows, nc * sizeof *nr);
      if (!nr) {
        rc = perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
        goto fail;
      }
      rows = nr;
      cap = nc;
    }
    rows[cnt].ts = ts;
    rows[cnt].score = (int32_t)f.score;
    rows[cnt].kind = (uint8_t)f.kind;
    cnt++;
  }
  if (rc < 0) {
    rc = core_store_err(t, rc, e);
    goto fail;
  }
  store_cursor_close(c);
  *out = rows;
  *n = cnt;
  return 0;
fail:
  store_cursor_close(c);
  free(rows);
  return rc;
}
