/* writer.c -- the group-commit writer: one thread owns the store's write transactions.
 * The loop thread queues decoded write requests; the writer takes everything queued (up to
 * store.group_commit_max), applies each in one transaction, commits (fsync) once, then hands
 * the batch back to the loop (uv_async) which answers. So the loop never waits on fsync, and
 * an answer is sent only after its transaction is durable.
 * Invariants: a job's success is reported only if its batch committed; if the transaction
 * fails (store error, commit error) every job of the batch gets 'unavailable' and nothing of
 * it is visible. Validation errors (invalid_params, conflict, not_found) change nothing
 * because core write functions validate before their first store_put. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"

struct writer_s {
  daemon_t *d;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  wjob_t *head, **tail;   /* queued, in arrival order */
  wjob_t *done, **done_tail;
  uint64_t queued;
  int stop;
};

void writer_free(wjob_t *job) {
  if (job->zone) msgpack_zone_free(job->zone);
  arena_free(&job->arena);
  free(job);
}

static void apply_batch(writer_t *w, wjob_t *batch) {
  daemon_t *d = w->d;
  store_txn_t *txn = NULL;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int rc = store_txn_begin(d->store, 1, &txn);
  int broken = rc != 0;
  perr_info_t fail;
  if (broken) perr_set(&fail, PERR_UNAVAILABLE, NULL, "store unavailable: cannot begin a write");
  uint64_t n = 0;
  for (wjob_t *j = batch; j; j = j->next) {
    n++;
    if (broken) continue;
    exec_ctx_t x = {d, d->store, txn, 1, &j->arena, ts.tv_sec,
                    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    j->rc = handler_table[j->method](&x, j->params, j->result, &j->err);
    if (j->rc == PERR_INTERNAL || j->rc == PERR_UNAVAILABLE) {
      broken = 1;
      fail = j->err;
    }
  }
  if (!broken) {
    rc = store_commit(txn);
    if (rc) {
      broken = 1;
      perr_set(&fail, PERR_UNAVAILABLE, NULL, "store commit failed; retry (writes are idempotent)");
    }
  } else if (txn) {
    store_abort(txn);
  }
  if (broken) {
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

static void *writer_main(void *arg) {
  writer_t *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->head && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->head) {
      pthread_mutex_unlock(&w->mu);
      break;
    }
    /* take up to group_commit_max jobs */
    wjob_t *batch = w->head, *last = batch;
    uint64_t n = 1, max = w->d->cfg.group_commit_max;
    while (last->next && n < max) last = last->next, n++;
    w->head = last->next;
    if (!w->head) w->tail = &w->head;
    last->next = NULL;
    w->queued -= n;
    atomic_store(&w->d->write_queue, w->queued);
    pthread_mutex_unlock(&w->mu);

    apply_batch(w, batch);

    pthread_mutex_lock(&w->mu);
    *w->done_tail = batch;
    w->done_tail = &last->next;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->d->done_async);
  }
  return NULL;
}

static void on_done(uv_async_t *a) {
  daemon_t *d = a->data;
  writer_t *w = d->writer;
  pthread_mutex_lock(&w->mu);
  wjob_t *jobs = w->done;
  w->done = NULL;
  w->done_tail = &w->done;
  pthread_mutex_unlock(&w->mu);
  if (jobs) server_write_done(d, jobs);
}

writer_t *writer_start(daemon_t *d) {
  writer_t *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->d = d;
  w->tail = &w->head;
  w->done_tail = &w->done;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  d->done_async.data = d;
  if (uv_async_init(d->loop, &d->done_async, on_done)) goto fail;
  if (pthread_create(&w->thread, NULL, writer_main, w)) {
    uv_close((uv_handle_t *)&d->done_async, NULL);
    goto fail;
  }
  return w;
fail:
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
  return NULL;
}

int writer_submit(writer_t *w, wjob_t *job) {
  pthread_mutex_lock(&w->mu);
  if (w->stop || w->queued >= w->d->cfg.max_write_queue) {
    pthread_mutex_unlock(&w->mu);
    return PERR_UNAVAILABLE;
  }
  job->next = NULL;
  *w->tail = job;
  w->tail = &job->next;
  w->queued++;
  atomic_store(&w->d->write_queue, w->queued);
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

void writer_stop(writer_t *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  /* hand back what finished after the loop stopped waiting (releases connection refs) */
  if (w->done) server_write_done(w->d, w->done);
  uv_close((uv_handle_t *)&w->d->done_async, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}
