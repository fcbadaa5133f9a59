/* store_batch.c -- group-commit batches with one savepoint a job, or one for a run of jobs
 * with a per-job retry when one of them is refused (store_batch.h). Owns no state beyond the
 * store_batch_t the caller holds. */
#include "store/store_batch.h"

#include <string.h>

static int batch_fail(store_batch_t *b, const perr_info_t *why) {
  if (!b->failed) {
    b->failed = 1;
    b->fail = *why;
  }
  return b->fail.code;
}

int store_batch_begin(store_t *s, store_batch_t *b) {
  memset(b, 0, sizeof *b);
  int rc = store_txn_begin(s, 1, &b->txn);
  if (rc) {
    perr_info_t why;
    char m[160];
    store_last_error(s, m, sizeof m);
    perr_set(&why, PERR_UNAVAILABLE, NULL, "store unavailable: cannot begin a write%s%s",
             m[0] ? ": " : "", m);
    b->txn = NULL;
    return batch_fail(b, &why);
  }
  return 0;
}

int store_batch_apply(store_batch_t *b, store_batch_job_fn fn, void *arg, perr_info_t *e) {
  if (b->failed) {
    *e = b->fail;
    return b->fail.code;
  }
  store_txn_t *sp;
  int rc = store_txn_begin_nested(b->txn, &sp);
  if (rc) {
    perr_set(e, rc, NULL, "cannot open a savepoint: %s", store_txn_errmsg(b->txn));
    return batch_fail(b, e);
  }
  rc = fn(sp, arg, e);
  if (rc == 0) {
    if ((rc = store_commit_err(sp, e))) return batch_fail(b, e); /* the parent is poisoned */
    b->applied++;
    return 0;
  }
  store_abort(sp); /* back to the savepoint: the job's puts are gone */
  if (rc == PERR_INTERNAL || rc == PERR_UNAVAILABLE) return batch_fail(b, e);
  b->rejected++;
  return rc;
}

/* Every job of a group gets the batch's failure. */
static int group_failed(store_batch_t *b, size_t n, int *rc, perr_info_t *e) {
  for (size_t i = 0; i < n; i++) {
    rc[i] = b->fail.code;
    e[i] = b->fail;
  }
  return b->fail.code;
}

int store_batch_apply_group(store_batch_t *b, size_t n, store_batch_job_fn fn,
                            void *const *args, int *rc, perr_info_t *e) {
  if (n == 0) return 0;
  if (b->failed) return group_failed(b, n, rc, e);
  store_txn_t *sp;
  int r = store_txn_begin_nested(b->txn, &sp);
  if (r) {
    perr_set(&e[0], r, NULL, "cannot open a savepoint: %s", store_txn_errmsg(b->txn));
    batch_fail(b, &e[0]);
    return group_failed(b, n, rc, e);
  }
  size_t i = 0;
  while (i < n && (r = fn(sp, args[i], &e[i])) == 0) i++;
  if (i == n) {
    if (store_commit_err(sp, &e[0])) { /* the parent is poisoned */
      batch_fail(b, &e[0]);
      return group_failed(b, n, rc, e);
    }
    b->applied += n;
    memset(rc, 0, n * sizeof *rc);
    return 0;
  }
  store_abort(sp);
  if (r == PERR_INTERNAL || r == PERR_UNAVAILABLE) {
    batch_fail(b, &e[i]);
    return group_failed(b, n, rc, e);
  }
  /* a job refused: again one savepoint a job, so that its writes go and the others' stay */
  int first = 0;
  for (i = 0; i < n; i++)
    if ((rc[i] = store_batch_apply(b, fn, args[i], &e[i])) && !first) first = rc[i];
  return first;
}

int store_batch_commit(store_batch_t *b) {
  store_txn_t *t = b->txn;
  b->txn = NULL;
  if (b->failed) {
    store_abort(t);
    return b->fail.code;
  }
  perr_info_t why;
  if (store_commit_err(t, &why)) {
    why.code = PERR_UNAVAILABLE; /* the data is as before the batch: try again later */
    return batch_fail(b, &why);
  }
  return 0;
}
