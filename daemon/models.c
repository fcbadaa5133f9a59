/* models.c -- see models.h. Also the handlers of model.status and model.refit. */
#include "models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "base/readcache.h"

/* The kinds. Each lives in its own model_<name>.c. */
#define MODEL_KINDS(XX) XX(clv) XX(recs)
#define XX(n) extern const model_kind_t model_kind_##n;
MODEL_KINDS(XX)
#undef XX
static const model_kind_t *const kinds[] = {
#define XX(n) &model_kind_##n,
    MODEL_KINDS(XX)
#undef XX
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

struct models_s {
  void *state[NKINDS];
  int building[NKINDS];
  uint64_t last_start_ms[NKINDS];
  uv_timer_t timer;
};

void models_path(const daemon_t *d, const char *name, const char *ext, char *buf, size_t len) {
  snprintf(buf, len, "%s/models/%s.%s", d->cfg.data_dir, name, ext);
}

static int kind_index(const char *name, size_t n) {
  for (size_t i = 0; i < NKINDS; i++)
    if (strlen(kinds[i]->name) == n && memcmp(kinds[i]->name, name, n) == 0) return (int)i;
  return -1;
}

void *models_state(daemon_t *d, const char *name) {
  int i = kind_index(name, strlen(name));
  return i < 0 || !d->models ? NULL : d->models->state[i];
}

void models_after_write(daemon_t *d, wjob_t *job) {
  if (!d->models || job->rc) return;
  for (size_t i = 0; i < NKINDS; i++)
    if (kinds[i]->after_write)
      kinds[i]->after_write(d, d->models->state[i], job->method, job->params, job->result);
}

/* ---- building: a refit job carries the kinds to build and what they built ---- */

typedef struct refit_built_s {
  void *built[MODELS_MAX];
  int ok[MODELS_MAX];
  perr_info_t err[MODELS_MAX];
  uint64_t took_ms[MODELS_MAX];
} refit_built_t;

static void refit_install(daemon_t *d, wjob_t *j) {
  refit_result_t *r = j->result;
  refit_built_t *b = r->opaque;
  models_t *m = d->models;
  for (size_t i = 0; i < NKINDS; i++) {
    if (!(r->mask & (1u << i))) continue;
    m->building[i] = 0;
    if (!b) continue;
    if (b->ok[i]) {
      if (d->stopping) kinds[i]->discard(b->built[i]);
      else kinds[i]->install(d, m->state[i], b->built[i]);
    }
  }
  rcache_bump(d->rcache); /* cached answers may carry the old model's figures */
  rcache_bump(d->qcache);
  /* report the installed state */
  r->n = 0;
  for (size_t i = 0; i < NKINDS && r->n < MODELS_MAX; i++) {
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

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The as_of of the refit being built on this (worker) thread; see models_build_as_of. */
static _Thread_local int64_t build_as_of;
int64_t models_build_as_of(void) { return build_as_of; }

/* Worker thread. */
int handle_model_refit(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const refit_params_t *p = params;
  refit_result_t *r = result;
  r->mask = p->mask;
  if (!r->mask && models_parse_names(p->names, p->n, &r->mask, e)) return e->code;
  refit_built_t *b = arena_alloc(x->arena, sizeof *b);
  if (!b) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  r->opaque = b;
  x->job->on_loop = refit_install;
  build_as_of = p->as_of;
  for (size_t i = 0; i < NKINDS; i++) {
    if (!(r->mask & (1u << i))) continue;
    uint64_t t0 = mono_ms();
    store_txn_t *t = exec_txn(x, &b->err[i]);
    b->built[i] = t ? kinds[i]->build(x->d, x->d->models->state[i], t, &b->err[i]) : NULL;
    b->ok[i] = b->built[i] != NULL;
    b->took_ms[i] = mono_ms() - t0;
    if (x->txn) { /* each kind on a fresh snapshot */
      store_abort(x->txn);
      x->txn = NULL;
    }
    if (b->ok[i]) log_info("model %s built in %llu ms", kinds[i]->name, (unsigned long long)b->took_ms[i]);
    else log_notice("model %s not built: %s", kinds[i]->name, b->err[i].message);
  }
  build_as_of = 0;
  return 0;
}

/* Loop thread. */
int handle_model_status(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  refit_result_t *r = result;
  (void)params; (void)e;
  r->n = 0;
  for (size_t i = 0; i < NKINDS && r->n < MODELS_MAX; i++) {
    model_status_entry_t *s = &r->models[r->n++];
    s->name = kinds[i]->name;
    kinds[i]->info(x->d->models->state[i], &s->info);
    if (x->d->models->building[i]) s->info.status = "building";
  }
  return 0;
}

int models_parse_names(const pstr_t *names, size_t n, unsigned *mask, perr_info_t *e) {
  *mask = 0;
  if (n == 0) {
    *mask = (1u << NKINDS) - 1;
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    int k = kind_index(names[i].p, names[i].n);
    if (k < 0) return perr_set(e, PERR_INVALID_PARAMS, "models", "unknown model '%.*s'", (int)names[i].n, names[i].p);
    *mask |= 1u << k;
  }
  return 0;
}

/* Queue a refit of the kinds in mask (scheduled: no connection waits for it). */
static void schedule_refit(daemon_t *d, unsigned mask) {
  models_t *m = d->models;
  wjob_t *j = job_new(METHOD_model_refit, 0);
  if (!j) return;
  ((refit_params_t *)j->params)->mask = mask;
  if (jobq_submit(d->worker, j)) {
    job_free(j);
    return;
  }
  for (size_t i = 0; i < NKINDS; i++)
    if (mask & (1u << i)) {
      m->building[i] = 1;
      m->last_start_ms[i] = mono_ms();
    }
}

static void on_timer(uv_timer_t *t) {
  daemon_t *d = t->data;
  models_t *m = d->models;
  unsigned mask = 0;
  uint64_t now = mono_ms();
  for (size_t i = 0; i < NKINDS; i++) {
    uint64_t every = kinds[i]->interval_s ? kinds[i]->interval_s(&d->cfg) : 0;
    if (!every || m->building[i]) continue;
    if (now - m->last_start_ms[i] >= every * 1000) mask |= 1u << i;
  }
  if (mask && !d->stopping) schedule_refit(d, mask);
}

int models_init(daemon_t *d) {
  models_t *m = calloc(1, sizeof *m);
  char dir[CONFIG_PATH_MAX + 16];
  if (!m) return -1;
  d->models = m;
  snprintf(dir, sizeof dir, "%s/models", d->cfg.data_dir);
  if (mkdir(dir, 0700) && errno != EEXIST) {
    log_err("cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  unsigned never_built = 0;
  for (size_t i = 0; i < NKINDS; i++) {
    if (kinds[i]->init(d, &m->state[i])) {
      log_err("model %s: cannot initialise", kinds[i]->name);
      return -1;
    }
    model_info_t info;
    kinds[i]->info(m->state[i], &info);
    if (info.version == 0) never_built |= 1u << i;
    m->last_start_ms[i] = mono_ms();
  }
  /* nothing persisted yet: build once now, in the background */
  if (never_built) schedule_refit(d, never_built);
  uv_timer_init(d->loop, &m->timer);
  m->timer.data = d;
  uv_timer_start(&m->timer, on_timer, 1000, 1000);
  uv_unref((uv_handle_t *)&m->timer);
  return 0;
}

void models_stop_timer(daemon_t *d) {
  if (d->models && !uv_is_closing((uv_handle_t *)&d->models->timer))
    uv_close((uv_handle_t *)&d->models->timer, NULL);
}

void models_destroy(daemon_t *d) {
  models_t *m = d->models;
  if (!m) return;
  for (size_t i = 0; i < NKINDS; i++)
    if (m->state[i]) kinds[i]->destroy(m->state[i]);
  free(m);
  d->models = NULL;
}
