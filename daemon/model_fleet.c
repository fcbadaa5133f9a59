/* model_fleet.c -- the model-leader thread of a shared store ([store] backend = postgresql,
 * docs/SCALEOUT.md section 7). It owns the node's model channel (store_models.h: a database
 * connection of its own holding the leader lock while this node leads) and, every
 * store.model_leader_poll_ms or when a publication is notified:
 *  - a follower tries the lock (pg_try_advisory_lock) and loads the newest published snapshot
 *    of each kind it does not serve yet (checksum verified, written to models/, loaded with
 *    the kind's own checks), handing it to the loop to install;
 *  - a node that takes the lock first loads the newest snapshots the same way, then reads the
 *    build marks its predecessor left and the age of each served snapshot, then tells the
 *    loop it leads (models_set_leader decides what to build at once), in that order;
 *  - the leader checks its session is alive and publishes what its worker built (queued by the
 *    loop through model_fleet_publish after the install);
 *  - the leader marks each build's start in the database for the worker, which waits for it
 *    (model_fleet_build_started), and clears the mark when the build is published (in the
 *    publishing transaction) or ends otherwise (model_fleet_build_ended), unless a newer
 *    build of the kind was marked since (marks are numbered: mark_gen).
 * A leader whose session breaks has lost the lock: it says so to the loop at once (its builds
 * in flight are then dropped) and tries again as a follower.
 * Invariants: the thread alone uses the channel; the loop alone installs and changes the
 * role models.c sees, in the order the thread queued the events; have[] (the snapshot of each
 * kind this node last loaded or published) and mark_gen[] are the thread's; every mark a
 * worker asks for is answered (marked or not) by the thread's next round, and at its end. Calls models.c and log.c only. */
#include "model_fleet.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "log.h"
#include "models.h"
#include "store/fileio.h"
#include "store/store_models.h"

_Static_assert(MODELS_MAX <= MODEL_FLEET_KINDS_MAX, "model_fleet_view_t holds every kind");

typedef struct fleet_event_s {
  struct fleet_event_s *next;
  int role;                   /* -1: an install; else the new role (1 = leader) */
  size_t kind;
  void *built;
  uint64_t version;
  char sum[STORE_MODELS_SUM_LEN + 1];
  models_takeover_t takeover; /* role 1 */
} fleet_event_t;

typedef struct fleet_snap_s {
  uint64_t version;
  char sum[STORE_MODELS_SUM_LEN + 1];
} fleet_snap_t;

struct model_fleet_s {
  daemon_t *d;
  store_models_t *ch;
  int poll_ms;
  pthread_t thread;
  uv_async_t async;
  pthread_mutex_t mu;         /* everything below up to the thread's own part */
  pthread_cond_t first_cv;    /* the thread's first round is over (first_done) */
  int first_done;
  int stop;
  fleet_event_t *head, *tail; /* for the loop, in order */
  unsigned char *pub[MODELS_MAX]; /* built by this node, to publish */
  size_t pub_n[MODELS_MAX];
  uint64_t pub_version[MODELS_MAX];
  uint64_t pub_mark[MODELS_MAX];
  pthread_cond_t mark_cv;     /* a worker's mark was answered */
  uint64_t mark_asked[MODELS_MAX], mark_answered[MODELS_MAX];
  uint64_t mark_reply[MODELS_MAX];  /* the answer: the mark's number, 0 = not marked */
  uint64_t clear_mark[MODELS_MAX];  /* a build that ended unpublished: its mark */
  model_fleet_view_t view;    /* role, leader, counters, snapshots served */
  /* the thread's own */
  int leader;
  int resync;                 /* the leader's publish met a newer version: load it */
  fleet_snap_t have[MODELS_MAX];
  fleet_snap_t refused[MODELS_MAX]; /* failed its checks: not fetched again */
  uint64_t mark_gen[MODELS_MAX];    /* the number of the last mark written (0: none) */
};

static void push_event(model_fleet_t *f, fleet_event_t *ev) {
  pthread_mutex_lock(&f->mu);
  if (f->tail) f->tail->next = ev;
  else f->head = ev;
  f->tail = ev;
  pthread_mutex_unlock(&f->mu);
  uv_async_send(&f->async);
}

static void post_role(model_fleet_t *f, int leader, const models_takeover_t *t) {
  fleet_event_t *ev = calloc(1, sizeof *ev);
  if (!ev) { /* cannot tell the loop: leave the lock so another node leads */
    log_err("model leader: out of memory");
    return;
  }
  ev->role = leader;
  if (t) ev->takeover = *t;
  push_event(f, ev);
}

/* Loop thread: install and change role in the order the thread decided; at stop (final) only
 * drop what was loaded. */
static void run_events(model_fleet_t *f, int final) {
  pthread_mutex_lock(&f->mu);
  fleet_event_t *ev = f->head;
  f->head = f->tail = NULL;
  pthread_mutex_unlock(&f->mu);
  while (ev) {
    fleet_event_t *next = ev->next;
    if (final) {
      if (ev->role < 0) models_drop_snapshot(f->d, ev->kind, ev->built);
    } else if (ev->role >= 0) {
      models_set_leader(f->d, ev->role, ev->role ? &ev->takeover : NULL);
    } else {
      models_install_snapshot(f->d, ev->kind, ev->built);
      pthread_mutex_lock(&f->mu);
      f->view.snap[ev->kind].version = ev->version;
      memcpy(f->view.snap[ev->kind].checksum, ev->sum, sizeof ev->sum);
      f->view.loaded++;
      pthread_mutex_unlock(&f->mu);
    }
    free(ev);
    ev = next;
  }
}

static void on_events(uv_async_t *a) { run_events(a->data, 0); }

static int stopping(model_fleet_t *f) {
  pthread_mutex_lock(&f->mu);
  int s = f->stop;
  pthread_mutex_unlock(&f->mu);
  return s;
}

static void count_failure(model_fleet_t *f) {
  pthread_mutex_lock(&f->mu);
  f->view.failures++;
  pthread_mutex_unlock(&f->mu);
}

/* Right after start: is the model served from the persisted file exactly snapshot h (a node
 * restarting on the fleet's newest version)? Then it is recorded as had, not fetched again. */
static int served_from_file(model_fleet_t *f, size_t i, const store_model_head_t *h) {
  char path[CONFIG_PATH_MAX + 48], sum[STORE_MODELS_SUM_LEN + 1];
  unsigned char *bytes;
  size_t n;
  perr_info_t e;
  models_file_path(f->d, i, path, sizeof path);
  if (file_read_all(path, &bytes, &n, &e)) return 0;
  store_models_checksum(bytes, n, sum);
  free(bytes);
  if (strcmp(sum, h->checksum)) return 0;
  f->have[i].version = h->version;
  memcpy(f->have[i].sum, sum, sizeof sum);
  pthread_mutex_lock(&f->mu);
  f->view.snap[i].version = h->version;
  memcpy(f->view.snap[i].checksum, sum, sizeof sum);
  pthread_mutex_unlock(&f->mu);
  log_info("model %s: the persisted model is the published version %llu", h->kind,
           (unsigned long long)h->version);
  return 1;
}

/* Load every kind whose newest published snapshot is not the one this node has. */
static void sync_snapshots(model_fleet_t *f) {
  store_model_head_t heads[2 * MODELS_MAX];
  size_t n;
  perr_info_t e;
  if (store_models_heads(f->ch, heads, 2 * MODELS_MAX, &n, &e)) return;
  for (size_t i = 0; i < models_count(f->d); i++) {
    const store_model_head_t *h = NULL;
    for (size_t k = 0; k < n && !h; k++)
      if (!strcmp(heads[k].kind, models_name(f->d, i))) h = &heads[k];
    if (!h || (h->version == f->have[i].version && !strcmp(h->checksum, f->have[i].sum)) ||
        (h->version == f->refused[i].version && !strcmp(h->checksum, f->refused[i].sum)))
      continue;
    unsigned char *bytes;
    size_t len;
    void *built = NULL;
    if (!f->have[i].version && served_from_file(f, i, h)) continue;
    if (!store_models_fetch(f->ch, h->kind, h->version, &bytes, &len, &e)) {
      built = models_load_snapshot(f->d, i, bytes, len, &e);
      free(bytes);
    }
    if (!built) {
      if (e.code != PERR_NOT_FOUND) { /* gone: pruned by a newer one, seen next time */
        log_warn("model %s: snapshot version %llu not loaded: %s", h->kind,
                 (unsigned long long)h->version, e.message);
        count_failure(f);
        if (e.code != PERR_UNAVAILABLE) { /* its bytes are bad: not again (a newer one is) */
          f->refused[i].version = h->version;
          memcpy(f->refused[i].sum, h->checksum, sizeof h->checksum);
        }
      }
      continue;
    }
    fleet_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
      count_failure(f);
      models_drop_snapshot(f->d, i, built); /* tried again next time */
      continue;
    }
    ev->role = -1;
    ev->kind = i;
    ev->built = built;
    ev->version = h->version;
    memcpy(ev->sum, h->checksum, sizeof ev->sum);
    f->have[i].version = h->version;
    memcpy(f->have[i].sum, h->checksum, sizeof h->checksum);
    log_info("model %s: snapshot version %llu loaded from the database", h->kind,
             (unsigned long long)h->version);
    push_event(f, ev);
  }
}

/* The leader: publish what the worker built. */
static void publish_pending(model_fleet_t *f) {
  for (size_t i = 0; i < models_count(f->d); i++) {
    pthread_mutex_lock(&f->mu);
    unsigned char *bytes = f->pub[i];
    size_t n = f->pub_n[i];
    uint64_t version = f->pub_version[i], pub_mark = f->pub_mark[i];
    f->pub[i] = NULL;
    pthread_mutex_unlock(&f->mu);
    if (!bytes) continue;
    perr_info_t e;
    char sum[STORE_MODELS_SUM_LEN + 1];
    int clear = pub_mark && pub_mark == f->mark_gen[i]; /* no newer build marked since */
    int rc = store_models_publish(f->ch, models_name(f->d, i), version, bytes, n, clear, sum,
                                  &e);
    free(bytes);
    if (rc) {
      log_warn("model %s: version %llu not published: %s", models_name(f->d, i),
               (unsigned long long)version, e.message);
      count_failure(f);
      if (rc == PERR_CONFLICT) f->resync = 1; /* serve what the database holds */
      continue;
    }
    f->have[i].version = version;
    memcpy(f->have[i].sum, sum, sizeof sum);
    pthread_mutex_lock(&f->mu);
    f->view.snap[i].version = version;
    memcpy(f->view.snap[i].checksum, sum, sizeof sum);
    f->view.published++;
    pthread_mutex_unlock(&f->mu);
    log_notice("model %s: version %llu published (%zu bytes)", models_name(f->d, i),
               (unsigned long long)version, n);
  }
}

static void drop_pending(model_fleet_t *f) {
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < MODELS_MAX; i++) {
    free(f->pub[i]);
    f->pub[i] = NULL;
  }
  pthread_mutex_unlock(&f->mu);
}

static void set_view(model_fleet_t *f, int connected, const char *leader_name) {
  pthread_mutex_lock(&f->mu);
  f->view.connected = connected;
  f->view.leader = f->leader;
  if (leader_name) snprintf(f->view.leader_name, sizeof f->view.leader_name, "%s", leader_name);
  pthread_mutex_unlock(&f->mu);
}

/* This node does not lead any more: nothing of its builds is published, and the loop drops
 * what is still being built. */
static void lose_lead(model_fleet_t *f) {
  f->leader = 0;
  drop_pending(f);
  post_role(f, 0, NULL);
  log_warn("model leader: this node lost the lead; another node may take it");
}

/* A node that has just taken the lock: which kinds its predecessor was building when it
 * ended (their marks; the lock was free, so whoever made them is gone) and how old each
 * served snapshot is. If the database cannot say, every kind counts as interrupted. */
static void takeover_facts(model_fleet_t *f, models_takeover_t *t) {
  store_model_head_t heads[2 * MODELS_MAX];
  char marked[2 * MODELS_MAX][32];
  size_t nh = 0, nm = 0;
  perr_info_t e;
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < MODELS_MAX; i++) t->age_s[i] = -1;
  if (store_models_heads(f->ch, heads, 2 * MODELS_MAX, &nh, &e) ||
      store_models_marked(f->ch, marked, 2 * MODELS_MAX, &nm, &e)) {
    log_warn("model leader: cannot read the build marks (%s): building every kind", e.message);
    t->interrupted = (1u << models_count(f->d)) - 1;
    return;
  }
  for (size_t i = 0; i < models_count(f->d); i++) {
    const char *name = models_name(f->d, i);
    for (size_t k = 0; k < nh; k++)
      if (!strcmp(heads[k].kind, name) && f->have[i].version == heads[k].version &&
          !strcmp(f->have[i].sum, heads[k].checksum))
        t->age_s[i] = heads[k].age_s;
    for (size_t k = 0; k < nm; k++)
      if (!strcmp(marked[k], name)) {
        t->interrupted |= 1u << i;
        log_notice("model %s: the previous leader ended during a build of it: building it now",
                   name);
      }
  }
}

/* The leader's build marks: answer what the worker asked (it waits), then clear the marks of
 * builds that ended unpublished. A node that does not lead answers 0 and writes nothing. */
static void run_marks(model_fleet_t *f) {
  for (size_t i = 0; i < models_count(f->d); i++) {
    pthread_mutex_lock(&f->mu);
    uint64_t asked = f->mark_asked[i], clear = f->clear_mark[i];
    int pending = asked > f->mark_answered[i];
    f->clear_mark[i] = 0;
    pthread_mutex_unlock(&f->mu);
    perr_info_t e;
    uint64_t reply = 0;
    if (pending && f->leader) {
      if (store_models_mark(f->ch, models_name(f->d, i), 1, &e)) {
        log_warn("model %s: build start not recorded: %s", models_name(f->d, i), e.message);
        count_failure(f);
      } else {
        reply = ++f->mark_gen[i];
      }
    }
    if (pending) {
      pthread_mutex_lock(&f->mu);
      f->mark_answered[i] = asked;
      f->mark_reply[i] = reply;
      pthread_cond_broadcast(&f->mark_cv);
      pthread_mutex_unlock(&f->mu);
    }
    if (clear && clear == f->mark_gen[i] && f->leader &&
        store_models_mark(f->ch, models_name(f->d, i), 0, &e))
      log_warn("model %s: build mark not cleared: %s", models_name(f->d, i), e.message);
  }
}

static void first_round_over(model_fleet_t *f) {
  pthread_mutex_lock(&f->mu);
  f->first_done = 1;
  pthread_cond_signal(&f->first_cv);
  pthread_mutex_unlock(&f->mu);
}

static void *fleet_main(void *arg) {
  model_fleet_t *f = arg;
  log_limit_t fail_log = {.what = "model-leader", .burst = 3, .window_ms = 60000};
  int down = 0;
  while (!stopping(f)) {
    perr_info_t e = {0};
    int leader = 0;
    if (store_models_lead(f->ch, &leader, &e)) {
      if (!down || log_limit_allow(&fail_log, LOG_LVL_WARN, clock_mono_ms()))
        log_warn("model leader: %s (retrying)", e.message);
      down = 1;
      if (f->leader) lose_lead(f); /* the session is gone, and the lock with it */
      run_marks(f); /* answered: not marked */
      set_view(f, 0, "");
      first_round_over(f);
      store_models_wait(f->ch, f->poll_ms);
      continue;
    }
    if (down && f->first_done) log_notice("model leader: connected to the database again");
    down = 0;
    if (leader && !f->leader) {
      /* the newest snapshots first, then the takeover builds (the events keep the order) */
      sync_snapshots(f);
      models_takeover_t t;
      takeover_facts(f, &t);
      f->leader = 1;
      post_role(f, 1, &t);
      pthread_mutex_lock(&f->mu);
      f->view.takeovers++;
      pthread_mutex_unlock(&f->mu);
      log_notice("model leader: this node leads (took the model lock); it builds the models "
                 "and publishes them");
    }
    if (!leader && f->leader) lose_lead(f); /* the fence found the lock gone */
    run_marks(f);
    if (f->leader) publish_pending(f);
    if (!f->leader || f->resync) sync_snapshots(f);
    f->resync = 0;
    char name[96];
    store_models_leader(f->ch, name, sizeof name, &e);
    set_view(f, 1, name);
    first_round_over(f);
    store_models_wait(f->ch, f->poll_ms);
  }
  /* a clean stop: what the leader built last is published before its session ends (and the
   * marks of builds that ended unpublished are cleared) */
  if (f->leader) {
    run_marks(f);
    publish_pending(f);
  }
  pthread_mutex_lock(&f->mu); /* no worker waits past the end */
  for (size_t i = 0; i < MODELS_MAX; i++) {
    f->mark_answered[i] = f->mark_asked[i];
    f->mark_reply[i] = 0;
  }
  pthread_cond_broadcast(&f->mark_cv);
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

model_fleet_t *model_fleet_start(daemon_t *d, uint64_t poll_ms) {
  perr_info_t e;
  store_models_t *ch;
  if (store_models_open(d->store, &ch, &e)) return NULL; /* embedded: every node builds */
  model_fleet_t *f = calloc(1, sizeof *f);
  if (!f) {
    store_models_close(ch);
    return NULL;
  }
  f->d = d;
  f->ch = ch;
  f->poll_ms = (int)poll_ms;
  f->view.shared = 1;
  f->view.poll_ms = poll_ms;
  f->view.n = models_count(d);
  for (size_t i = 0; i < f->view.n; i++) f->view.snap[i].name = models_name(d, i);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->first_cv, NULL);
  pthread_cond_init(&f->mark_cv, NULL);
  f->async.data = f;
  if (uv_async_init(d->loop, &f->async, on_events)) goto fail;
  if (pthread_create(&f->thread, NULL, fleet_main, f)) {
    uv_close((uv_handle_t *)&f->async, NULL);
    goto fail;
  }
  uv_unref((uv_handle_t *)&f->async);
  d->fleet = f;
  /* the first round (the lock tried, the newest snapshots loaded) before the node serves: a
   * node that leads answers model.refit from its first request, one that follows serves the
   * fleet's versions from its first answer. Bounded: a database that does not answer makes
   * the round fail (connect_timeout, statement_timeout). */
  pthread_mutex_lock(&f->mu);
  while (!f->first_done) pthread_cond_wait(&f->first_cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
  run_events(f, 0);
  return f;
fail:
  log_err("cannot start the model-leader thread");
  pthread_cond_destroy(&f->first_cv);
  pthread_cond_destroy(&f->mark_cv);
  pthread_mutex_destroy(&f->mu);
  store_models_close(ch);
  free(f);
  return NULL;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void model_fleet_stop(model_fleet_t *f) {
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  pthread_mutex_unlock(&f->mu);
  store_models_wake(f->ch);
  pthread_join(f->thread, NULL);
  store_models_close(f->ch); /* a leader's lock goes with its session */
  f->d->fleet = NULL;
  run_events(f, 1); /* what was loaded and not installed yet is dropped */
  drop_pending(f);
  pthread_cond_destroy(&f->first_cv);
  pthread_cond_destroy(&f->mark_cv);
  pthread_mutex_destroy(&f->mu);
  uv_close((uv_handle_t *)&f->async, on_closed); /* frees f */
}

void model_fleet_publish(daemon_t *d, size_t kind, uint64_t version, unsigned char *bytes,
                         size_t n, uint64_t mark) {
  model_fleet_t *f = d->fleet;
  if (!f || kind >= MODELS_MAX) {
    free(bytes);
    return;
  }
  pthread_mutex_lock(&f->mu);
  free(f->pub[kind]); /* a newer build replaces one not published yet */
  f->pub[kind] = bytes;
  f->pub_n[kind] = n;
  f->pub_version[kind] = version;
  f->pub_mark[kind] = mark;
  pthread_mutex_unlock(&f->mu);
  store_models_wake(f->ch);
}

uint64_t model_fleet_build_started(daemon_t *d, size_t kind) {
  model_fleet_t *f = d->fleet;
  if (!f || kind >= MODELS_MAX) return 0;
  pthread_mutex_lock(&f->mu);
  uint64_t ticket = ++f->mark_asked[kind];
  pthread_mutex_unlock(&f->mu);
  store_models_wake(f->ch);
  pthread_mutex_lock(&f->mu);
  while (f->mark_answered[kind] < ticket) pthread_cond_wait(&f->mark_cv, &f->mu);
  uint64_t mark = f->mark_reply[kind];
  pthread_mutex_unlock(&f->mu);
  return mark;
}

void model_fleet_build_ended(daemon_t *d, size_t kind, uint64_t mark) {
  model_fleet_t *f = d->fleet;
  if (!f || kind >= MODELS_MAX || !mark) return;
  pthread_mutex_lock(&f->mu);
  f->clear_mark[kind] = mark;
  pthread_mutex_unlock(&f->mu);
  store_models_wake(f->ch);
}

void model_fleet_leader_name(daemon_t *d, char *buf, size_t len) {
  model_fleet_t *f = d->fleet;
  buf[0] = 0;
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  snprintf(buf, len, "%s", f->view.leader_name);
  pthread_mutex_unlock(&f->mu);
}

void model_fleet_view(daemon_t *d, model_fleet_view_t *out) {
  model_fleet_t *f = d->fleet;
  memset(out, 0, sizeof *out);
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  *out = f->view;
  pthread_mutex_unlock(&f->mu);
}
