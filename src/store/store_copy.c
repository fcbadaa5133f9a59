/* store_copy.c -- store_copy (store.h): every record of one store into another, whatever their
 * backends (the embedded LMDB store into PostgreSQL: `patrond --migrate-embedded`, docs/
 * SCALEOUT.md). Owns no state.
 * Invariants: the source is read at one snapshot; the target must hold no record outside META
 * (a copy never merges two stores); each target write txn holds at most `batch` records and
 * is durable before the next begins, so a failed copy leaves a prefix that the caller reports
 * (and a rerun refuses: empty the target first). */
#include <stdio.h>

#include "store_internal.h"

static int target_is_empty(store_t *dst, perr_info_t *err) {
  store_txn_t *t;
  if (store_txn_begin(dst, 0, &t))
    return perr_set(err, PERR_UNAVAILABLE, NULL, "cannot read the target store");
  for (int tb = 0; tb < STORE_T__COUNT; tb++) {
    if (tb == STORE_T_META || store_count(t, (store_table_t)tb) == 0) continue;
    store_abort(t);
    return perr_set(err, PERR_CONFLICT, NULL,
                    "the target store already holds records (table %s): a copy never merges "
                    "two stores", store_table_name((store_table_t)tb));
  }
  store_abort(t);
  return 0;
}

int store_copy(store_t *src, store_t *dst, uint64_t batch, uint64_t *copied, perr_info_t *err) {
  *copied = 0;
  if (!batch) batch = 5000;
  int rc = target_is_empty(dst, err);
  if (rc) return rc;
  store_txn_t *r, *w = NULL;
  if (store_txn_begin(src, 0, &r))
    return perr_set(err, PERR_UNAVAILABLE, NULL, "cannot read the source store");
  uint64_t in_txn = 0;
  for (int tb = 0; tb < STORE_T__COUNT && !rc; tb++) {
    store_cursor_t *c;
    if ((rc = store_cursor_open(r, (store_table_t)tb, NULL, 0, &c))) {
      perr_set(err, rc, NULL, "reading %s: %s", store_table_name((store_table_t)tb),
               store_txn_errmsg(r));
      break;
    }
    const void *k, *v;
    size_t kl, vl;
    int more;
    while (!rc && (more = store_cursor_next(c, &k, &kl, &v, &vl)) == 1) {
      if (!w && (rc = store_txn_begin(dst, 1, &w))) {
        char m[160];
        store_last_error(dst, m, sizeof m);
        perr_set(err, rc, NULL, "cannot begin a write on the target%s%s", m[0] ? ": " : "", m);
        w = NULL;
        break;
      }
      if ((rc = store_put(w, (store_table_t)tb, k, kl, v, vl))) {
        perr_set(err, rc, NULL, "writing %s: %s", store_table_name((store_table_t)tb),
                 store_txn_errmsg(w));
        break;
      }
      (*copied)++;
      if (++in_txn == batch) {
        rc = store_commit_err(w, err);
        w = NULL;
        in_txn = 0;
      }
    }
    if (!rc && more < 0) rc = perr_set(err, PERR_INTERNAL, NULL, "reading the source store");
    store_cursor_close(c);
  }
  if (w) {
    if (rc) store_abort(w);
    else rc = store_commit_err(w, err);
  }
  store_abort(r);
  return rc;
}
