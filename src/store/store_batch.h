/* store_batch.h -- a group-commit batch of independent write jobs in one write transaction,
 * each job inside its own savepoint (store_txn_begin_nested). Owns the rule for what a job's
 * failure does to the batch:
 *  - a job that returns 0 is merged into the batch;
 *  - a job that returns any other error (invalid_params, conflict, not_found, ...) is rolled
 *    back to its savepoint, even after puts, and the rest of the batch goes on;
 *  - a store-level failure (the job returns PERR_INTERNAL or PERR_UNAVAILABLE, a savepoint
 *    cannot begin or merge, or the final commit fails) fails the whole batch: nothing of it
 *    is stored.
 * Invariant: after store_batch_commit returns 0 the store holds exactly the jobs that
 * returned 0, in the order they were applied, durably. Single-threaded, like any write txn. */
#ifndef PATRON_STORE_BATCH_H
#define PATRON_STORE_BATCH_H

#include <stdint.h>

#include "base/perr.h"
#include "store/store.h"

typedef struct store_batch_s {
  store_txn_t *txn;  /* the batch's write txn; NULL once the batch failed or ended */
  int failed;        /* store-level failure: nothing of the batch will be stored */
  perr_info_t fail;  /* why, when failed */
  uint64_t applied;  /* jobs merged */
  uint64_t rejected; /* jobs rolled back to their savepoint */
} store_batch_t;

/* One job: writes through t (its savepoint) and returns 0 or a perr code with e filled. */
typedef int (*store_batch_job_fn)(store_txn_t *t, void *arg, perr_info_t *e);

/* Start a batch. Returns 0, or a store-level code (b->failed set). */
int store_batch_begin(store_t *s, store_batch_t *b);
/* Run one job in its own savepoint. Returns the job's code; once the batch has failed,
 * returns the batch's failure (in e) without running fn. */
int store_batch_apply(store_batch_t *b, store_batch_job_fn fn, void *arg, perr_info_t *e);
/* Run n jobs optimistically in one savepoint: LMDB copies the pages a savepoint touches, so
 * one savepoint for a run of jobs instead of one each saves most of a bulk load's page
 * copying. If every job returns 0 they are merged together; if one returns a job-level
 * error the group is rolled back and every job runs again in its own savepoint
 * (store_batch_apply), so the outcome is exactly that of n store_batch_apply calls. Only
 * for jobs that may run twice: they write only through t and overwrite their results.
 * rc[i] and e[i] get each job's code and error; returns the first non-zero rc[i] or 0. */
int store_batch_apply_group(store_batch_t *b, size_t n, store_batch_job_fn fn,
                            void *const *args, int *rc, perr_info_t *e);
/* Commit (durable on 0) or, if the batch failed, roll it all back. Returns 0 or b->fail.code
 * (a failed commit is reported as PERR_UNAVAILABLE with the store's message). */
int store_batch_commit(store_batch_t *b);

#endif
