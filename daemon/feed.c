/* feed.c -- the change-feed thread of a shared store ([store] backend = postgresql,
 * docs/SCALEOUT.md): it calls store_feed_poll in a loop, which applies the writes other nodes
 * committed to this node's local copy (woken by the database's NOTIFY, polling at least every
 * store.feed_poll_ms), and tells the loop through a uv_async to drop the read caches, whose
 * answers may predate those writes, and to run on_remote with the tables they changed (main.c:
 * the offer catalogue is rebuilt after another node's offers.set). Nothing runs on an
 * embedded store.
 * Invariants: only this thread calls store_feed_poll; the loop owns the caches (cleared in
 * the async callback); feed_stop wakes a waiting poll and joins the thread before the store
 * closes. Calls no other daemon file but log.c. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/clock.h"
#include "base/readcache.h"
#include "daemon.h"
#include "feed.h"
#include "log.h"

struct feed_s {
  daemon_t *d;
  store_t *store;
  int poll_ms;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a failed poll waits on it (stop signals it) */
  int stop;
  uv_async_t async;
  feed_remote_fn on_remote;
  atomic_uint_fast64_t tables; /* tables other nodes changed since the loop last looked */
};

static void on_applied(uv_async_t *a) {
  feed_t *f = a->data;
  uint64_t tables = atomic_exchange(&f->tables, 0);
  if (!tables) return;
  /* another node's write may change any cached answer: drop them all (a hit rate cost only
   * while other nodes write) */
  if (f->d->rcache) rcache_clear(f->d->rcache);
  if (f->d->qcache) rcache_clear(f->d->qcache);
  if (f->on_remote) f->on_remote(f->d, tables);
}

static int stopping(feed_t *f) {
  pthread_mutex_lock(&f->mu);
  int s = f->stop;
  pthread_mutex_unlock(&f->mu);
  return s;
}

static void *feed_main(void *arg) {
  feed_t *f = arg;
  log_limit_t fail_log = {.what = "change-feed", .burst = 3, .window_ms = 60000};
  int down = 0;
  while (!stopping(f)) {
    uint64_t n = 0, tables = 0;
    perr_info_t e = {0};
    int rc = store_feed_poll(f->store, f->poll_ms, &n, &tables, &e);
    if (tables) {
      atomic_fetch_or(&f->tables, tables);
      uv_async_send(&f->async);
    }
    if (rc == 0) {
      if (down) log_notice("change feed: connected to the database again; caught up");
      down = 0;
      continue;
    }
    if (!down || log_limit_allow(&fail_log, LOG_LVL_WARN, clock_mono_ms()))
      log_warn("change feed: %s (reads are served from the local copy; retrying)", e.message);
    down = 1;
    /* wait a little before the next try (a stop ends the wait) */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&f->mu);
    if (!f->stop) pthread_cond_timedwait(&f->cv, &f->mu, &until);
    pthread_mutex_unlock(&f->mu);
  }
  return NULL;
}

feed_t *feed_start(daemon_t *d, store_t *store, uint64_t poll_ms, feed_remote_fn on_remote) {
  store_feed_stats_t st;
  store_feed_stats(store, &st);
  if (!st.shared) return NULL;
  feed_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->d = d;
  f->store = store;
  f->poll_ms = (int)poll_ms;
  f->on_remote = on_remote;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->async.data = f;
  if (uv_async_init(d->loop, &f->async, on_applied)) goto fail;
  if (pthread_create(&f->thread, NULL, feed_main, f)) {
    uv_close((uv_handle_t *)&f->async, NULL);
    goto fail;
  }
  uv_unref((uv_handle_t *)&f->async); /* the loop may end while the feed runs */
  return f;
fail:
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
  return NULL;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void feed_stop(feed_t *f) {
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  store_feed_wake(f->store);
  pthread_join(f->thread, NULL);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  uv_close((uv_handle_t *)&f->async, on_closed); /* frees f */
}
