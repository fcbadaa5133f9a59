/* jobs.c -- the two background threads that take work off the event loop, one queue each:
 *  - the WRITER owns the store's write transactions (group commit): it takes everything
 *    queued (up to store.group_commit_max), applies each job in one transaction, commits
 *    (fsync) once, then hands the batch back to the loop, which answers. The loop never
 *    waits on fsync, and an answer is sent only after its transaction is durable.
 *  - the WORKER runs slow reads and model rebuilds (reports, refits) one at a time, each on
 *    its own read snapshot, so the loop keeps answering checkouts meanwhile.
 * Finished jobs return to the loop through one uv_async per queue (server_jobs_done).
 * Invariants: a write job's success is reported only if its batch committed; if the
 * transaction fails (store error, commit error) every job of the batch gets 'unavailable'
 * and nothing of it is visible. Validation errors (invalid_params, conflict, not_found)
 * change nothing because core write functions validate before their first store_put. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "base/clock.h"
#include "log.h"

struct jobq_s {
  daemon_t *d;
  int write;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  wjob_t *head, **tail;   /* queued, in arrival order */
  wjob_t *done, **done_tail;
  uint64_t queued, max_queued;
  atomic_uint_fast64_t *queued_gauge;
  uv_async_t async;
  int stop;
};

void job_free(wjob_t *job) {
  if (job->zone) msgpack_zone_free(job->zone);
  arena_free(&job->arena);
  free(job);
}

static void clock_now(exec_ctx_t *x) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  x->now = ts.tv_sec;
  x->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_write_batch(jobq_t *q, wjob_t *batch) {
  daemon_t *d = q->d;
  store_txn_t *txn = NULL;
  exec_ctx_t x = {.d = d, .store = d->store, .write = 1};
  clock_now(&x);
  perr_info_t fail;
  int broken = store_txn_begin(d->store, 1, &txn) != 0;
  if (broken) perr_set(&fail, PERR_UNAVAILABLE, NULL, "store unavailable: cannot begin a write");
  uint64_t n = 0;
  for (wjob_t *j = batch; j; j = j->next) {
    n++;
    if (broken) continue;
    x.txn = txn;
    x.arena = &j->arena;
    x.job = j;
    j->rc = handler_table[j->method](&x, j->params, j->result, &j->err);
    if (j->rc == PERR_INTERNAL || j->rc == PERR_UNAVAILABLE) {
      broken = 1;
      fail = j->err;
    }
  }
  if (!broken) {
    if (store_commit_err(txn, &fail)) {
      broken = 1;
      if (fail.code != PERR_UNAVAILABLE) fail.code = PERR_UNAVAILABLE;
    }
  } else if (txn) {
    store_abort(txn);
  }
  if (broken) {
    /* writer thread only: a full disk fails every batch; log a few a minute, count the rest */
    static log_limit_t batch_log = {.what = "write-batch-failure", .burst = 5, .window_ms = 60000};
    if (log_limit_allow(&batch_log, LOG_LVL_ERR, clock_mono_ms()))
      log_err("write batch of %llu failed: %s", (unsigned long long)n, fail.message);
    atomic_fetch_add(&d->write_failures, n);
    for (wjob_t *j = batch; j; j = j->next) {
      j->rc = fail.code;
      j->err = fail;
    }
  } else {
    atomic_fetch_add(&d->writes_committed, n);
  }
  atomic_fetch_add(&d->write_batches, 1);
}

static void run_read_job(jobq_t *q, wjob_t *j) {
  exec_ctx_t x = {.d = q->d, .store = q->d->store, .arena = &j->arena, .job = j};
  clock_now(&x);
  j->rc = handler_table[j->method](&x, j->params, j->result, &j->err);
  if (x.txn) store_abort(x.txn);
}

static void *jobq_main(void *arg) {
  jobq_t *q = arg;
  for (;;) {
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
    if (!q->head) {
      pthread_mutex_unlock(&q->mu);
      break;
    }
    /* the writer takes up to group_commit_max jobs; the worker one */
    wjob_t *batch = q->head, *last = batch;
    uint64_t n = 1, max = q->write ? q->d->cfg.group_commit_max : 1;
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

static void on_done(uv_async_t *a) {
  jobq_t *q = a->data;
  pthread_mutex_lock(&q->mu);
  wjob_t *jobs = q->done;
  q->done = NULL;
  q->done_tail = &q->done;
  pthread_mutex_unlock(&q->mu);
  if (jobs) server_jobs_done(q->d, jobs);
}

jobq_t *jobq_start(daemon_t *d, int write) {
  jobq_t *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->d = d;
  q->write = write;
  q->tail = &q->head;
  q->done_tail = &q->done;
  q->max_queued = write ? d->cfg.max_write_queue : 1024;
  q->queued_gauge = write ? &d->write_queue : &d->work_queue;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  q->async.data = q;
  if (uv_async_init(d->loop, &q->async, on_done)) goto fail;
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

static void on_async_closed(uv_handle_t *h) { free(h->data); }

int jobq_submit(jobq_t *q, wjob_t *job) {
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
  pthread_mutex_lock(&q->mu);
  q->stop = 1;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  /* hand back what finished after the loop stopped waiting (releases connection refs) */
  if (q->done) server_jobs_done(q->d, q->done);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  uv_close((uv_handle_t *)&q->async, on_async_closed); /* frees q */
}
