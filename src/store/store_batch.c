/* store_batch.c -- group-commit batches with one savepoint a job (store_batch.h). Owns no
 * state beyond the store_batch_t the caller holds. */
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
