/* jobs.c -- the two background threads that take work off the event loop, one queue each:
 *  - the WRITER owns the store's write transactions (group commit): it takes everything
 *    queued (up to store.group_commit_max), applies each job in one transaction, commits
 *    (fsync) once, then hands the batch back to the loop, which answers. The loop never
 *    waits on fsync, and an answer is sent only after its transaction is durable.
 *  - the WORKER runs slow reads and model rebuilds (reports, refits) one at a time, each on
 *    its own read snapshot, so the loop keeps answering checkouts meanwhile.
 * Finished jobs return to the loop through one uv_async per queue, to the on_done callback
 * given at jobq_start (jobs.c calls no other daemon file but exec.c, log.c, contract.c and
 * metrics.c, to which the writer reports each batch's size and commit time).
 * Invariants: a write job's success is reported only if its batch committed; each job runs
 * in its own savepoint (src/store/store_batch.h), so a job that fails (invalid_params,
 * conflict, not_found), even after some puts, changes nothing and the rest of the batch
 * commits (a run of bulk-import jobs shares one savepoint while none of them fails, with
 * the same outcome: store_batch_apply_group); a store-level failure (store error, commit
 * error) fails every job of the batch and nothing of it is visible. If the store then refuses every transaction (store_fatal:
 * LMDB's meta-page write failed), the writer stops the daemon, which exits 75 so that the
 * service manager restarts it on the last good commit. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "daemon.h"
#include "base/clock.h"
#include "contract.h"
#include "log.h"
#include "metrics.h"
#include "store/store_batch.h"

struct jobq_s {
  daemon_t *d;
  int write;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  wjob_t *head, **tail;   /* queued, in arrival order */
  wjob_t *done, **done_tail;
  uint64_t queued, max_queued;
  /* jobs a writer batch takes at most: set by the loop thread (start, SIGHUP reload), read by
   * the writer; an atomic so a reload never tears it (the writer never reads d->cfg) */
  atomic_uint_fast64_t batch_max;
  atomic_uint_fast64_t *queued_gauge;
  const method_exec_fn *handlers;
  jobq_done_fn on_done;
  uv_async_t async;
  int stop;
};


/* A write job on its way through store_batch_apply. */
typedef struct write_call_s {
  exec_ctx_t *x;
  const method_exec_fn *handlers;
} write_call_t;

/* One write job inside its savepoint t (store_batch_job_fn). */
static int apply_write_job(store_txn_t *t, void *arg, perr_info_t *e) {
  write_call_t *w = arg;
  exec_ctx_t *x = w->x;
  x->txn = t;
  int rc = w->handlers[x->job->method](x, x->job->params, x->job->result, e);
  x->txn = NULL;
  return rc;
}

/* customer.forget committed: zero the data file's free pages that still hold the erased
 * bytes (store.h), before the forget is answered. A failure is logged; the erasure stands. */
static void scrub_after_forget(daemon_t *d, const wjob_t *batch) {
  for (const wjob_t *j = batch; j; j = j->next) {
    if (j->method != METHOD_customer_forget || j->rc) continue;
    uint64_t zeroed;
    perr_info_t e = {0};
    if (store_scrub_free_pages(d->store, &zeroed, &e))
      log_err("customer.forget: free pages not scrubbed: %s", e.message);
    else
      log_info("customer.forget: %llu free pages zeroed", (unsigned long long)zeroed);
    return;
  }
}

/* The bulk-import methods: they write only through their transaction and overwrite their
 * result, so a run of them can share one savepoint (store_batch_apply_group) and run again
 * one by one when one of them is refused. */
static int groupable(const wjob_t *j) {
  return j->method == METHOD_order_record || j->method == METHOD_customer_upsert ||
         j->method == METHOD_product_upsert;
}
#define WRITE_GROUP_MAX 128

/* Runs a run of groupable jobs starting at j (at most WRITE_GROUP_MAX); returns the next. */
static wjob_t *run_group(jobq_t *q, store_batch_t *b, const exec_ctx_t *base, wjob_t *j,
                         uint64_t *n) {
  exec_ctx_t x[WRITE_GROUP_MAX];
  write_call_t w[WRITE_GROUP_MAX];
  void *args[WRITE_GROUP_MAX] = {0};
  int rc[WRITE_GROUP_MAX];
  perr_info_t err[WRITE_GROUP_MAX];
  wjob_t *js[WRITE_GROUP_MAX];
  size_t k = 0;
  for (; j && k < WRITE_GROUP_MAX && groupable(j); j = j->next, k++) {
    js[k] = j;
    x[k] = *base;
    x[k].arena = &j->arena;
    x[k].job = j;
    w[k] = (write_call_t){&x[k], q->handlers};
    args[k] = &w[k];
  }
  store_batch_apply_group(b, k, apply_write_job, args, rc, err);
  for (size_t i = 0; i < k; i++) {
    js[i]->rc = rc[i];
    if (rc[i]) js[i]->err = err[i];
  }
  *n += k;
  return j;
}

static void run_write_batch(jobq_t *q, wjob_t *batch) {
  CONTRACT_THREAD(THREAD_WRITER);
  daemon_t *d = q->d;
  exec_ctx_t x = {.d = d, .store = d->store, .write = 1};
  exec_clock(&x);
  store_batch_t b;
  store_batch_begin(d->store, &b);
  uint64_t n = 0;
  for (wjob_t *j = batch; j;) {
    if (groupable(j) && j->next && groupable(j->next)) {
      j = run_group(q, &b, &x, j, &n);
      continue;
    }
    n++;
    x.arena = &j->arena;
    x.job = j;
    write_call_t w = {&x, q->handlers};
    j->rc = store_batch_apply(&b, apply_write_job, &w, &j->err);
    j = j->next;
  }
  uint64_t commit_start = clock_mono_ns();
  int failed = store_batch_commit(&b);
  metrics_commit(d->metrics, n, clock_mono_ns() - commit_start);
  if (failed) {
    /* writer thread only: a full disk fails every batch; log a few a minute, count the rest */
    static log_limit_t batch_log = {.what = "write-batch-failure", .burst = 5, .window_ms = 60000};
    if (log_limit_allow(&batch_log, LOG_LVL_ERR, clock_mono_ms()))
      log_err("write batch of %llu failed: %s", (unsigned long long)n, b.fail.message);
    if (store_fatal(d->store) && atomic_exchange(&d->exit_status, 75) == 0) {
      /* the store refuses every transaction until reopened: stop (answering what is
       * queued with 'unavailable') and exit 75 so that the service manager restarts us */
      log_err("the data store cannot be used after a failed commit; stopping (exit 75) so "
              "that a restart reopens it (acknowledged writes are on disk)");
      kill(getpid(), SIGTERM);
    }
    atomic_fetch_add(&d->write_failures, n);
    for (wjob_t *j = batch; j; j = j->next) {
      j->rc = b.fail.code;
      j->err = b.fail;
    }
  } else {
    atomic_fetch_add(&d->writes_committed, n);
    scrub_after_forget(d, batch);
  }
  atomic_fetch_add(&d->write_batches, 1);
}

static void run_read_job(jobq_t *q, wjob_t *j) {
  CONTRACT_THREAD(THREAD_WORKER);
  exec_ctx_t x = {.d = q->d, .store = q->d->store, .arena = &j->arena, .job = j};
  exec_clock(&x);
  j->rc = q->handlers[j->method](&x, j->params, j->result, &j->err);
  if (x.txn) store_abort(x.txn);
}

static void *jobq_main(void *arg) {
  jobq_t *q = arg;
  contract_set_thread(q->write ? THREAD_WRITER : THREAD_WORKER);
  for (;;) {
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
    if (!q->head) {
      pthread_mutex_unlock(&q->mu);
      break;
    }
    /* the writer takes up to group_commit_max jobs; the worker one */
    wjob_t *batch = q->head, *last = batch;
    uint64_t n = 1, max = atomic_load_explicit(&q->batch_max, memory_order_relaxed);
    while (last->next && n < max) last = last->next, n++;
    q->head = last->next;
    if (!q->head) q->tail = &q->head;
    last->next = NULL;
    q->queued -= n;
    atomic_store(q->queued_gauge, q->queued);
    pthread_mutex_unlock(&q->mu);

    if (q->write) run_write_batch(q, batch);
    else run_read_job(q, batch);

    pthread_mutex_lock(&q->mu);
    *q->done_tail = batch;
    q->done_tail = &last->next;
    pthread_mutex_unlock(&q->mu);
    uv_async_send(&q->async);
  }
  return NULL;
}

static void on_async(uv_async_t *a) {
  jobq_t *q = a->data;
  CONTRACT_THREAD(THREAD_LOOP);
  pthread_mutex_lock(&q->mu);
  wjob_t *jobs = q->done;
  q->done = NULL;
  q->done_tail = &q->done;
  pthread_mutex_unlock(&q->mu);
  if (jobs) q->on_done(q->d, jobs);
}

jobq_t *jobq_start(daemon_t *d, int write, const method_exec_fn *handlers, jobq_done_fn on_done) {
  CONTRACT_THREAD(THREAD_LOOP);
  jobq_t *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->d = d;
  q->write = write;
  q->handlers = handlers;
  q->on_done = on_done;
  q->tail = &q->head;
  q->done_tail = &q->done;
  q->max_queued = write ? d->cfg.max_write_queue : 1024;
  atomic_init(&q->batch_max, write ? d->cfg.group_commit_max : 1);
  q->queued_gauge = write ? &d->write_queue : &d->work_queue;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  q->async.data = q;
  if (uv_async_init(d->loop, &q->async, on_async)) goto fail;
  if (pthread_create(&q->thread, NULL, jobq_main, q)) {
    uv_close((uv_handle_t *)&q->async, NULL);
    goto fail;
  }
  return q;
fail:
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  free(q);
  return NULL;
}

void jobq_set_batch_max(jobq_t *q, uint64_t max) {
  CONTRACT_THREAD(THREAD_LOOP);
  if (q && q->write && max) atomic_store_explicit(&q->batch_max, max, memory_order_relaxed);
}

static void on_async_closed(uv_handle_t *h) { free(h->data); }

int jobq_submit(jobq_t *q, wjob_t *job) {
  CONTRACT_THREAD(THREAD_LOOP);
  pthread_mutex_lock(&q->mu);
  if (q->stop || q->queued >= q->max_queued) {
    pthread_mutex_unlock(&q->mu);
    return PERR_UNAVAILABLE;
  }
  job->next = NULL;
  *q->tail = job;
  q->tail = &job->next;
  q->queued++;
  atomic_store(q->queued_gauge, q->queued);
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return 0;
}

void jobq_unref(jobq_t *q) { uv_unref((uv_handle_t *)&q->async); }

void jobq_stop(jobq_t *q) {
  if (!q) return;
  CONTRACT_THREAD(THREAD_LOOP);
  pthread_mutex_lock(&q->mu);
  q->stop = 1;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  /* hand back what finished after the loop stopped waiting (releases connection refs) */
  if (q->done) q->on_done(q->d, q->done);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  uv_close((uv_handle_t *)&q->async, on_async_closed); /* frees q */
}
