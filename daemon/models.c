/* models.c -- see models.h. Also the handlers of model.status and model.refit.
 * model.status says `building` for a kind while a scheduled refit of it is queued or running
 * (building[], loop: how many) and while any refit builds it on the worker until installed
 * (running[], atomic: how many; an admin's model.refit is not scheduled here). Both are counts:
 * a job's install takes back only its own, so an earlier job installed while a later one
 * builds the same kind does not make the kind look ready. Test hook: with the environment variable
 * PATRON_DEBUG_BUILD_GATE naming a FIFO, the worker holds every build at its start (after
 * setting running[]) by a two-step rendezvous on it: it opens the FIFO for writing and closes
 * it (a reader learns the build has started), then opens it for reading and waits for a
 * writer to open and close it (the release). Unset in production.
 * A fleet (hooks.publish_snapshot set): builds are scheduled, queued and installed only while
 * this node is the model leader (leader, set by model_fleet.c on the loop); a build that ends
 * after the node lost the lead is dropped (the new leader's snapshot is what every node
 * serves). The leader's worker marks each build's start in the shared store
 * (hooks.build_started) before it builds, and the loop ends every such mark exactly once
 * (publish_snapshot or build_ended). The worker also writes each built model to
 * models/<name>.publish, reads it back and hands the bytes to the fleet with the version it
 * installed. */
#include "models.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/readcache.h"
#include "contract.h"
#include "store/fileio.h"
#include "log.h"

struct models_s {
  const model_kind_t *const *kinds; /* main.c's table */
  size_t nkinds;
  models_hooks_t hooks;
  void *state[MODELS_MAX];
  int building[MODELS_MAX];       /* scheduled refits of the kind queued or running */
  atomic_int running[MODELS_MAX]; /* builds of the kind begun on the worker, not installed */
  const char *build_gate;         /* PATRON_DEBUG_BUILD_GATE or NULL */
  uint64_t last_start_ms[MODELS_MAX];
  uv_timer_t timer;
  int fleet;                      /* a fleet on a shared store: only its leader builds */
  atomic_int leader;              /* fleet: this node is the model leader */
};

int models_leader(const daemon_t *d) { return d->models && atomic_load(&d->models->leader); }

int models_may_build(const daemon_t *d) {
  return d->models && (!d->models->fleet || atomic_load(&d->models->leader));
}

size_t models_count(const daemon_t *d) { return d->models ? d->models->nkinds : 0; }

const char *models_name(const daemon_t *d, size_t i) { return d->models->kinds[i]->name; }

void models_path(const daemon_t *d, const char *name, const char *ext, char *buf, size_t len) {
  snprintf(buf, len, "%s/models/%s.%s", d->cfg.data_dir, name, ext);
}

void models_file_path(const daemon_t *d, size_t i, char *buf, size_t len) {
  models_path(d, d->models->kinds[i]->name, d->models->kinds[i]->ext, buf, len);
}

static int kind_index(const models_t *m, const char *name, size_t n) {
  for (size_t i = 0; m && i < m->nkinds; i++)
    if (strlen(m->kinds[i]->name) == n && memcmp(m->kinds[i]->name, name, n) == 0) return (int)i;
  return -1;
}

void *models_state(daemon_t *d, const char *name) {
  for (size_t i = 0; d->models && i < d->models->nkinds; i++)
    if (d->models->kinds[i]->name == name) return d->models->state[i]; /* the kind's own string
                                                                          (recs_state, per request) */
  int i = kind_index(d->models, name, strlen(name));
  return i < 0 ? NULL : d->models->state[i];
}

void models_after_write(daemon_t *d, wjob_t *job) {
  CONTRACT_THREAD(THREAD_LOOP);
  models_t *m = d->models;
  if (!m || job->rc) return;
  for (size_t i = 0; i < m->nkinds; i++)
    if (m->kinds[i]->after_write)
      m->kinds[i]->after_write(d, m->state[i], job->method, job->params, job->result);
}

void models_publish(daemon_t *d, const char *method, models_pack_fn pack, const void *ctx,
                    size_t n, uint64_t *sent, uint64_t *dropped) {
  if (d->models && d->models->hooks.publish)
    d->models->hooks.publish(d, method, pack, ctx, n, sent, dropped);
}

void models_configure(daemon_t *d) {
  CONTRACT_THREAD(THREAD_LOOP);
  models_t *m = d->models;
  for (size_t i = 0; m && i < m->nkinds; i++)
    if (m->kinds[i]->configure) m->kinds[i]->configure(m->state[i], &d->cfg);
}

/* ---- building: a refit job carries the kinds to build and what they built ---- */

typedef struct refit_built_s {
  void *built[MODELS_MAX];
  int ok[MODELS_MAX];
  perr_info_t err[MODELS_MAX];
  uint64_t took_ms[MODELS_MAX];
  /* fleet leader: the built model's file, to publish once installed */
  unsigned char *pub[MODELS_MAX];
  size_t pub_n[MODELS_MAX];
  uint64_t pub_version[MODELS_MAX];
  uint64_t mark[MODELS_MAX]; /* fleet leader: the build's start mark (build_started) */
} refit_built_t;

/* Loop: a marked build ends without a publication (failed, dropped, not publishable). */
static void end_mark(daemon_t *d, refit_built_t *b, size_t i) {
  if (b->mark[i] && d->models->hooks.build_ended) d->models->hooks.build_ended(d, i, b->mark[i]);
  b->mark[i] = 0;
}

/* Loop: hand what the leader built and installed to the fleet (or drop it). */
static void publish_built(daemon_t *d, refit_built_t *b, size_t i) {
  models_t *m = d->models;
  model_info_t info;
  m->kinds[i]->info(m->state[i], &info);
  if (info.version != b->pub_version[i]) { /* renumbered at install: not what was saved */
    log_warn("model %s: version %llu installed as %llu; not published (the next build is)",
             m->kinds[i]->name, (unsigned long long)b->pub_version[i],
             (unsigned long long)info.version);
    free(b->pub[i]);
    end_mark(d, b, i);
  } else {
    m->hooks.publish_snapshot(d, i, b->pub_version[i], b->pub[i], b->pub_n[i], b->mark[i]);
    b->mark[i] = 0;
  }
  b->pub[i] = NULL;
}

static void refit_install(daemon_t *d, wjob_t *j) {
  CONTRACT_THREAD(THREAD_LOOP);
  refit_result_t *r = j->result;
  refit_built_t *b = r->opaque;
  models_t *m = d->models;
  const model_kind_t *const *kinds = m->kinds;
  int scheduled = ((const refit_params_t *)j->params)->mask != 0; /* see schedule_refit */
  for (size_t i = 0; i < m->nkinds; i++) {
    if (!(r->mask & (1u << i))) continue;
    if (scheduled && m->building[i] > 0) m->building[i]--;
    if (!b) continue; /* refused before any build began */
    atomic_fetch_sub(&m->running[i], 1); /* built and now installed (or failed) */
    if (b->ok[i]) {
      if (d->stopping) {
        kinds[i]->discard(b->built[i]);
      } else if (m->fleet && !atomic_load(&m->leader)) {
        log_notice("model %s: built while this node led, but it does not any more: not "
                   "installed (the leader's snapshots are served)", kinds[i]->name);
        kinds[i]->discard(b->built[i]);
      } else {
        kinds[i]->install(d, m->state[i], b->built[i], 0);
        if (b->pub[i]) publish_built(d, b, i);
      }
    }
    end_mark(d, b, i); /* every marked build not handed to the fleet ends here */
    free(b->pub[i]);
    b->pub[i] = NULL;
  }
  rcache_bump(d->rcache); /* cached answers may carry the old model's figures */
  rcache_bump(d->qcache);
  /* report the installed state */
  r->n = 0;
  for (size_t i = 0; i < m->nkinds && r->n < MODELS_MAX; i++) {
    if (!(r->mask & (1u << i))) continue;
    model_status_entry_t *e = &r->models[r->n++];
    e->name = kinds[i]->name;
    kinds[i]->info(m->state[i], &e->info);
    e->took_ms = b ? b->took_ms[i] : 0;
    if (b && !b->ok[i]) {
      e->info.status = perr_name(b->err[i].code);
      snprintf(e->info.reason, sizeof e->info.reason, "%s", b->err[i].message);
    }
  }
}

/* Worker: the test hook's rendezvous (see the file comment); nothing without the variable. */
static void build_gate(const models_t *m) {
  if (!m->build_gate) return;
  int fd = open(m->build_gate, O_WRONLY);
  if (fd >= 0) close(fd);
  fd = open(m->build_gate, O_RDONLY);
  if (fd >= 0) {
    char c;
    while (read(fd, &c, 1) > 0) {
    }
    close(fd);
  }
}

/* Worker, fleet leader: the built model's file bytes into b (nothing on failure: the next build
 * publishes); they also replace the persisted file the build wrote (the same model). */
static void keep_for_publish(daemon_t *d, size_t i, refit_built_t *b) {
  models_t *m = d->models;
  char path[CONFIG_PATH_MAX + 48];
  perr_info_t e;
  models_path(d, m->kinds[i]->name, "publish", path, sizeof path);
  if (m->kinds[i]->save(m->state[i], b->built[i], path, &b->pub_version[i], &e) ||
      file_read_all(path, &b->pub[i], &b->pub_n[i], &e)) {
    log_warn("model %s: cannot be published (%s)", m->kinds[i]->name, e.message);
    b->pub[i] = NULL;
    unlink(path);
    return;
  }
  /* the persisted file becomes these very bytes: a restart then finds it is the published
   * snapshot (model_fleet.c fetches nothing) */
  char persisted[CONFIG_PATH_MAX + 48];
  models_file_path(d, i, persisted, sizeof persisted);
  if (rename(path, persisted)) unlink(path);
}

/* Worker thread. */
int handle_model_refit(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  CONTRACT_THREAD(THREAD_WORKER);
  const refit_params_t *p = params;
  refit_result_t *r = result;
  models_t *m = x->d->models;
  r->mask = p->mask;
  if (!r->mask && models_parse_names(x->d, p->names, p->n, &r->mask, e)) return e->code;
  x->job->on_loop = refit_install; /* also after a refusal: it takes back building[] */
  refit_built_t *b = arena_alloc(x->arena, sizeof *b);
  r->opaque = b;
  if (!b) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  if (!models_may_build(x->d)) {
    char leader[96] = "";
    if (m->hooks.leader_name) m->hooks.leader_name(x->d, leader, sizeof leader);
    r->opaque = NULL;
    return perr_set(e, PERR_UNAVAILABLE, "models",
                    "models are built by the model leader only (docs/SCALEOUT.md section 7): "
                    "this node follows %s%s%s; call model.refit there",
                    leader[0] ? "'" : "", leader[0] ? leader : "no leader yet", leader[0] ? "'" : "");
  }
  model_build_t build = {.store = x->store, .as_of = p->as_of ? p->as_of : clock_wall_s()};
  for (size_t i = 0; i < m->nkinds; i++) {
    if (!(r->mask & (1u << i))) continue;
    atomic_fetch_add(&m->running[i], 1);
    /* a fleet leader records the start in the shared store first: if this node dies during
     * the build, the next leader knows to build the kind at once */
    b->mark[i] = m->hooks.build_started ? m->hooks.build_started(x->d, i) : 0;
    build_gate(m);
    uint64_t t0 = clock_mono_ms();
    store_txn_t *t = exec_txn(x, &b->err[i]);
    b->built[i] = t ? m->kinds[i]->build(m->state[i], &build, t, &b->err[i]) : NULL;
    b->ok[i] = b->built[i] != NULL;
    b->took_ms[i] = clock_mono_ms() - t0;
    if (b->ok[i] && m->fleet) keep_for_publish(x->d, i, b);
    if (x->txn) { /* each kind on a fresh snapshot */
      store_abort(x->txn);
      x->txn = NULL;
    }
    if (b->ok[i]) log_info("model %s built in %llu ms", m->kinds[i]->name, (unsigned long long)b->took_ms[i]);
    else log_notice("model %s not built: %s", m->kinds[i]->name, b->err[i].message);
  }
  return 0;
}

/* Loop thread. */
int models_get_info(daemon_t *d, size_t i, const char **name, model_info_t *out) {
  CONTRACT_THREAD(THREAD_LOOP);
  const models_t *m = d->models;
  if (!m || i >= m->nkinds) return -1;
  *name = m->kinds[i]->name;
  m->kinds[i]->info(m->state[i], out);
  if (m->building[i] || atomic_load(&m->running[i])) out->status = "building";
  return 0;
}

int handle_model_status(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  CONTRACT_THREAD(THREAD_LOOP);
  refit_result_t *r = result;
  (void)params; (void)e;
  r->n = 0;
  while (r->n < MODELS_MAX &&
         models_get_info(x->d, r->n, &r->models[r->n].name, &r->models[r->n].info) == 0)
    r->n++;
  return 0;
}

int models_parse_names(const daemon_t *d, const pstr_t *names, size_t n, unsigned *mask,
                       perr_info_t *e) {
  *mask = 0;
  if (n == 0) {
    *mask = d->models ? (1u << d->models->nkinds) - 1 : 0;
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    int k = kind_index(d->models, names[i].p, names[i].n);
    if (k < 0) return perr_set(e, PERR_INVALID_PARAMS, "models", "unknown model '%.*s'", (int)names[i].n, names[i].p);
    *mask |= 1u << k;
  }
  return 0;
}

/* Queue a refit of the kinds in mask (scheduled: no connection waits for it). 0 or -1. */
static int schedule_refit(daemon_t *d, unsigned mask) {
  models_t *m = d->models;
  if (!models_may_build(d)) return -1; /* a fleet's follower: the leader builds */
  wjob_t *j = job_new(METHOD_model_refit, 0);
  if (!j) return -1;
  ((refit_params_t *)j->params)->mask = mask;
  if (jobq_submit(d->worker, j)) {
    job_free(j);
    return -1;
  }
  for (size_t i = 0; i < m->nkinds; i++)
    if (mask & (1u << i)) {
      m->building[i]++;
      m->last_start_ms[i] = clock_mono_ms();
    }
  return 0;
}

int models_request_refit(daemon_t *d, const char *name) {
  int k = kind_index(d->models, name, strlen(name));
  if (k < 0 || d->stopping) return -1;
  return schedule_refit(d, 1u << k);
}

static void on_timer(uv_timer_t *t) {
  daemon_t *d = t->data;
  models_t *m = d->models;
  unsigned mask = 0;
  uint64_t now = clock_mono_ms();
  if (!models_may_build(d)) return;
  for (size_t i = 0; i < m->nkinds; i++) {
    uint64_t every = m->kinds[i]->interval_s ? m->kinds[i]->interval_s(&d->cfg) : 0;
    if (m->building[i]) continue;
    if (every && now - m->last_start_ms[i] >= every * 1000) mask |= 1u << i;
    if (m->kinds[i]->refit_due && m->kinds[i]->refit_due(m->state[i], now)) mask |= 1u << i;
  }
  if (mask && !d->stopping) schedule_refit(d, mask);
}

int models_init(daemon_t *d, const model_kind_t *const *kinds, size_t nkinds,
                const models_hooks_t *hooks) {
  char dir[CONFIG_PATH_MAX + 16];
  if (nkinds > MODELS_MAX) return -1;
  models_t *m = calloc(1, sizeof *m);
  if (!m) return -1;
  m->kinds = kinds;
  m->nkinds = nkinds;
  if (hooks) m->hooks = *hooks;
  m->fleet = m->hooks.publish_snapshot != NULL;
  m->build_gate = getenv("PATRON_DEBUG_BUILD_GATE");
  d->models = m;
  snprintf(dir, sizeof dir, "%s/models", d->cfg.data_dir);
  if (mkdir(dir, 0700) && errno != EEXIST) {
    log_err("cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  unsigned never_built = 0;
  for (size_t i = 0; i < nkinds; i++) {
    if (kinds[i]->init(d, &m->state[i])) {
      log_err("model %s: cannot initialise", kinds[i]->name);
      return -1;
    }
    if (kinds[i]->configure) kinds[i]->configure(m->state[i], &d->cfg);
    model_info_t info;
    kinds[i]->info(m->state[i], &info);
    if (info.version == 0) never_built |= 1u << i;
    m->last_start_ms[i] = clock_mono_ms();
  }
  /* nothing persisted yet: build once now, in the background (a fleet: the leader does, and
   * the others load its snapshot) */
  if (never_built && !m->fleet) schedule_refit(d, never_built);
  uv_timer_init(d->loop, &m->timer);
  m->timer.data = d;
  uv_timer_start(&m->timer, on_timer, 1000, 1000);
  uv_unref((uv_handle_t *)&m->timer);
  return 0;
}

/* ---- a fleet on a shared store ---- */

void *models_load_snapshot(daemon_t *d, size_t i, const unsigned char *bytes, size_t n,
                           perr_info_t *e) {
  CONTRACT_NOT_THREAD(THREAD_LOOP);
  models_t *m = d->models;
  const model_kind_t *k = m->kinds[i];
  char path[CONFIG_PATH_MAX + 48], tmp[CONFIG_PATH_MAX + 48];
  models_file_path(d, i, path, sizeof path);
  models_path(d, k->name, "fleet", tmp, sizeof tmp);
  const void *parts[1] = {bytes};
  size_t lens[1] = {n};
  if (file_write_atomic(tmp, parts, lens, 1, e)) return NULL;
  void *built = k->load(m->state[i], tmp, e);
  if (!built) unlink(tmp);
  else if (rename(tmp, path))
    log_warn("model %s: cannot replace %s (%s); the snapshot is served from memory", k->name,
             path, strerror(errno));
  return built;
}

void models_install_snapshot(daemon_t *d, size_t i, void *built) {
  CONTRACT_THREAD(THREAD_LOOP);
  models_t *m = d->models;
  if (d->stopping) {
    m->kinds[i]->discard(built);
    return;
  }
  m->kinds[i]->install(d, m->state[i], built, 1);
  rcache_bump(d->rcache); /* cached answers may carry the old model's figures */
  rcache_bump(d->qcache);
}

void models_drop_snapshot(daemon_t *d, size_t i, void *built) {
  d->models->kinds[i]->discard(built);
}

void models_set_leader(daemon_t *d, int leader, const models_takeover_t *t) {
  CONTRACT_THREAD(THREAD_LOOP);
  models_t *m = d->models;
  if (!m || !m->fleet || atomic_load(&m->leader) == leader) return;
  atomic_store(&m->leader, leader);
  if (!leader || !t || d->stopping) return;
  unsigned mask = 0;
  uint64_t now = clock_mono_ms();
  for (size_t i = 0; i < m->nkinds; i++) {
    model_info_t info;
    m->kinds[i]->info(m->state[i], &info);
    uint64_t every = m->kinds[i]->interval_s ? m->kinds[i]->interval_s(&d->cfg) : 0;
    int64_t age = t->age_s[i];
    if (m->building[i]) continue;
    if (info.version == 0 || (t->interrupted & (1u << i)) ||
        (every && (age < 0 || (uint64_t)age >= every))) {
      mask |= 1u << i;
    } else if (every) {
      /* the schedule continues from the served snapshot's publication: on_timer builds
       * when now - last_start_ms reaches the interval (unsigned: exact even past zero) */
      m->last_start_ms[i] = now - (uint64_t)age * 1000;
      log_info("model %s: served snapshot published %llds ago; next build in %llus",
               m->kinds[i]->name, (long long)age, (unsigned long long)(every - (uint64_t)age));
    }
  }
  if (mask) schedule_refit(d, mask);
}

void models_stop_timer(daemon_t *d) {
  if (d->models && !uv_is_closing((uv_handle_t *)&d->models->timer))
    uv_close((uv_handle_t *)&d->models->timer, NULL);
}

void models_destroy(daemon_t *d) {
  models_t *m = d->models;
  if (!m) return;
  for (size_t i = 0; i < m->nkinds; i++)
    if (m->state[i]) m->kinds[i]->destroy(m->state[i]);
  free(m);
  d->models = NULL;
}
