/* metrics_text.c -- see metrics_text.h. Metric names, types and labels are documented in
 * docs/OPERATIONS.md (section "Metrics"); a change here changes that list. Label values are
 * method, code, model and socket names from fixed tables, escaped anyway. */
#include "metrics_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/readcache.h"
#include "daemon.h"
#include "metrics.h"
#include "model_fleet.h"
#include "models.h"

void mtext_printf(mtext_t *t, const char *fmt, ...) {
  if (t->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->cap - t->n;
    int k = vsnprintf(t->p ? t->p + t->n : NULL, room, fmt, ap);
    va_end(ap);
    if (k < 0) {
      t->oom = 1;
      return;
    }
    if ((size_t)k < room) {
      t->n += (size_t)k;
      return;
    }
    size_t cap = t->cap ? t->cap * 2 : 16384;
    while (cap - t->n <= (size_t)k) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
      t->oom = 1;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
}

void mtext_free(mtext_t *t) {
  free(t->p);
  *t = (mtext_t){0};
}

/* HELP text: backslash and newline escaped. Label values also escape '"'. */
static void put_escaped(mtext_t *t, const char *s, int label) {
  for (; *s; s++) {
    if (*s == '\\') mtext_printf(t, "\\\\");
    else if (*s == '\n') mtext_printf(t, "\\n");
    else if (label && *s == '"') mtext_printf(t, "\\\"");
    else mtext_printf(t, "%c", *s);
  }
}

void mtext_family(mtext_t *t, const char *name, const char *type, const char *help) {
  mtext_printf(t, "# HELP %s ", name);
  put_escaped(t, help, 0);
  mtext_printf(t, "\n# TYPE %s %s\n", name, type);
}

/* name{label="value"} v, or name v when label is NULL. */
static void sample1(mtext_t *t, const char *name, const char *label, const char *value,
                    uint64_t v) {
  mtext_printf(t, "%s", name);
  if (label) {
    mtext_printf(t, "{%s=\"", label);
    put_escaped(t, value, 1);
    mtext_printf(t, "\"}");
  }
  mtext_printf(t, " %llu\n", (unsigned long long)v);
}

static void scalar(mtext_t *t, const char *name, const char *type, const char *help, uint64_t v) {
  mtext_family(t, name, type, help);
  sample1(t, name, NULL, NULL, v);
}

/* One histogram series: per-bucket counts (not cumulative) -> cumulative le lines, +Inf,
 * _sum, _count. label/value: the series' label (NULL = none); sum printed as given. */
static void hist_series(mtext_t *t, const char *name, const char *label, const char *value,
                        const uint64_t *counts, unsigned nb, const char *const *le_text,
                        const uint64_t *le_num, const char *sum_text) {
  uint64_t cum = 0;
  for (unsigned i = 0; i <= nb; i++) {
    cum += counts[i];
    mtext_printf(t, "%s_bucket{", name);
    if (label) {
      mtext_printf(t, "%s=\"", label);
      put_escaped(t, value, 1);
      mtext_printf(t, "\",");
    }
    if (i == nb) mtext_printf(t, "le=\"+Inf\"}");
    else if (le_text) mtext_printf(t, "le=\"%s\"}", le_text[i]);
    else mtext_printf(t, "le=\"%llu\"}", (unsigned long long)le_num[i]);
    mtext_printf(t, " %llu\n", (unsigned long long)cum);
  }
  const char *names[2] = {"_sum", "_count"};
  for (int k = 0; k < 2; k++) {
    mtext_printf(t, "%s%s", name, names[k]);
    if (label) {
      mtext_printf(t, "{%s=\"", label);
      put_escaped(t, value, 1);
      mtext_printf(t, "\"}");
    }
    if (k == 0) mtext_printf(t, " %s\n", sum_text);
    else mtext_printf(t, " %llu\n", (unsigned long long)cum);
  }
}

static void seconds_text(char *buf, size_t len, uint64_t ns) {
  snprintf(buf, len, "%llu.%09llu", (unsigned long long)(ns / 1000000000),
           (unsigned long long)(ns % 1000000000));
}

static void render_requests(daemon_t *d, mtext_t *t) {
  const metrics_t *m = d->metrics;
  uint64_t known = 0;
  mtext_family(t, "patron_requests_total", "counter",
               "Requests and notifications received, by method (method=\"" METRICS_UNKNOWN_METHOD
               "\": unknown method name or malformed message).");
  for (int i = 0; i < METHOD__COUNT; i++) {
    sample1(t, "patron_requests_total", "method", method_table[i].name, d->c.by_method[i].calls);
    known += d->c.by_method[i].calls;
  }
  sample1(t, "patron_requests_total", "method", METRICS_UNKNOWN_METHOD,
          d->c.requests > known ? d->c.requests - known : 0);

  mtext_family(t, "patron_request_errors_total", "counter",
               "Requests that failed, by method and error code (the error answer's code).");
  for (int i = 0; i <= METHOD__COUNT; i++)
    for (int slot = 1; slot < METRICS_ERR_SLOTS; slot++) {
      uint64_t n = m ? m->errors[i][slot] : 0;
      if (!n) continue;
      mtext_printf(t, "patron_request_errors_total{method=\"%s\",code=\"%s\"} %llu\n",
                   i < METHOD__COUNT ? method_table[i].name : METRICS_UNKNOWN_METHOD,
                   perr_name(-slot), (unsigned long long)n);
    }

  mtext_family(t, "patron_request_duration_seconds", "histogram",
               "Time from a request's dispatch to its answer (writes: queue and commit "
               "included), by method; methods called at least once.");
  for (int i = 0; m && i < METHOD__COUNT; i++) {
    const metrics_hist_t *h = &m->latency[i];
    uint64_t n = 0;
    for (unsigned b = 0; b <= METRICS_LAT_BUCKETS; b++) n += h->bucket[b];
    if (!n) continue;
    char sum[40];
    seconds_text(sum, sizeof sum, h->sum_ns);
    hist_series(t, "patron_request_duration_seconds", "method", method_table[i].name, h->bucket,
                METRICS_LAT_BUCKETS, metrics_lat_bounds_text, NULL, sum);
  }
  scalar(t, "patron_protocol_errors_total", "counter",
         "Malformed messages and limit violations (too large, too deep, ...).",
         d->c.protocol_errors);
}

static void render_connections(daemon_t *d, mtext_t *t) {
  uint64_t tls = 0;
  for (const conn_t *c = d->conns; c; c = c->next) tls += c->tls != NULL;
  mtext_family(t, "patron_connections", "gauge",
               "Open client connections, by listener (shop and admin: the Unix sockets; tls: the "
               "TLS listener).");
  sample1(t, "patron_connections", "socket", "shop", d->nconns - d->nconns_admin - tls);
  sample1(t, "patron_connections", "socket", "admin", d->nconns_admin);
  sample1(t, "patron_connections", "socket", "tls", tls);
  scalar(t, "patron_tls_handshake_failures_total", "counter",
         "TLS connections refused (certificate, protocol version, not TLS).",
         d->c.tls_handshake_failures);
  scalar(t, "patron_connections_accepted_total", "counter", "Connections accepted.",
         d->c.conns_total);
  scalar(t, "patron_connections_rejected_total", "counter",
         "Connections refused at a connection limit.", d->c.conns_rejected);
  scalar(t, "patron_connections_evicted_idle_total", "counter",
         "Idle connections closed to give their slot to a new one.", d->c.conns_evicted_idle);
  scalar(t, "patron_connections_closed_limit_total", "counter",
         "Connections closed for breaking a limit (size, timeouts, memory).",
         d->c.conns_closed_limit);
  scalar(t, "patron_connections_closed_write_timeout_total", "counter",
         "Connections closed because their answers were not read (limits.write_timeout_ms).",
         d->c.conns_closed_write_timeout);
  scalar(t, "patron_connections_closed_memory_total", "counter",
         "Connections closed to keep buffers under limits.max_buffer_memory_mb.",
         d->c.conns_closed_memory);
  scalar(t, "patron_received_bytes_total", "counter", "Bytes read from clients.", d->c.bytes_in);
  scalar(t, "patron_sent_bytes_total", "counter", "Bytes of answers produced.", d->c.bytes_out);
}

static void render_writes(daemon_t *d, mtext_t *t) {
  metrics_t *m = d->metrics;
  mtext_family(t, "patron_queue_depth", "gauge",
               "Jobs waiting for a background thread, by queue (write: the group-commit writer; "
               "work: slow reads and model builds).");
  sample1(t, "patron_queue_depth", "queue", "write", atomic_load(&d->write_queue));
  sample1(t, "patron_queue_depth", "queue", "work", atomic_load(&d->work_queue));
  scalar(t, "patron_writes_committed_total", "counter", "Writes committed durably.",
         atomic_load(&d->writes_committed));
  scalar(t, "patron_write_failures_total", "counter",
         "Writes failed by a failed batch commit (store error).", atomic_load(&d->write_failures));
  if (!m) return;
  uint64_t counts[METRICS_LAT_BUCKETS + 1];
  char sum[40];
  for (unsigned b = 0; b <= METRICS_BATCH_BUCKETS; b++) counts[b] = atomic_load(&m->batch_bucket[b]);
  snprintf(sum, sizeof sum, "%llu", (unsigned long long)atomic_load(&m->batch_sum));
  mtext_family(t, "patron_write_batch_size", "histogram",
               "Writes per group commit (one transaction, one fsync).");
  hist_series(t, "patron_write_batch_size", NULL, NULL, counts, METRICS_BATCH_BUCKETS, NULL,
              metrics_batch_bounds, sum);
  for (unsigned b = 0; b <= METRICS_LAT_BUCKETS; b++) counts[b] = atomic_load(&m->commit_bucket[b]);
  seconds_text(sum, sizeof sum, atomic_load(&m->commit_sum_ns));
  mtext_family(t, "patron_commit_duration_seconds", "histogram",
               "Time to commit one group-commit transaction (write and fsync).");
  hist_series(t, "patron_commit_duration_seconds", NULL, NULL, counts, METRICS_LAT_BUCKETS,
              metrics_lat_bounds_text, NULL, sum);
}

static void render_models(daemon_t *d, mtext_t *t) {
  static const struct {
    const char *name, *help;
  } fam[] = {
      {"patron_model_ready", "1 if the model is built and served, else 0."},
      {"patron_model_version", "Installs of the model since start-up or load (0 = none)."},
      {"patron_model_built_timestamp_seconds", "When the served model was built (Unix time, "
                                               "as model.status built_at)."},
      {"patron_model_age_seconds", "Seconds since the served model was built."},
      {"patron_model_build_duration_seconds", "How long the last build took."},
      {"patron_model_items", "Customers scored, items in the graph, ... of the served model."},
      {"patron_model_bytes", "Memory held by the served model."},
  };
  int64_t now = clock_wall_s();
  for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
    mtext_family(t, fam[f].name, "gauge", fam[f].help);
    const char *name;
    model_info_t mi;
    for (size_t i = 0; models_get_info(d, i, &name, &mi) == 0; i++) {
      uint64_t v = 0;
      switch (f) {
        case 0: v = mi.version > 0 && mi.status && !strcmp(mi.status, "ready"); break;
        case 1: v = mi.version; break;
        case 2: v = mi.built_at > 0 ? (uint64_t)mi.built_at : 0; break;
        case 3: v = mi.built_at > 0 && now > mi.built_at ? (uint64_t)(now - mi.built_at) : 0; break;
        case 4: {
          char secs[40];
          seconds_text(secs, sizeof secs, mi.build_ms * 1000000);
          mtext_printf(t, "%s{model=\"%s\"} %s\n", fam[f].name, name, secs);
          continue;
        }
        case 5: v = mi.items; break;
        default: v = mi.bytes; break;
      }
      sample1(t, fam[f].name, "model", name, v);
    }
  }
}

/* A fleet's model leader (docs/SCALEOUT.md section 7): nothing on an embedded store. */
static void render_model_fleet(daemon_t *d, mtext_t *t) {
  model_fleet_view_t v;
  model_fleet_view(d, &v);
  if (!v.shared) return;
  scalar(t, "patron_model_leader", "gauge",
         "1 if this node is the fleet's model leader (builds and publishes the models), else 0.",
         (uint64_t)v.leader);
  mtext_family(t, "patron_model_snapshot_version", "gauge",
               "Version of the model snapshot this node loaded from or published to the "
               "database (0 = none yet).");
  for (size_t i = 0; i < v.n; i++)
    sample1(t, "patron_model_snapshot_version", "model", v.snap[i].name, v.snap[i].version);
  scalar(t, "patron_model_leader_takeovers_total", "counter",
         "Times this node took the model leader lock.", v.takeovers);
  scalar(t, "patron_model_snapshots_published_total", "counter",
         "Model snapshots this node published as the leader.", v.published);
  scalar(t, "patron_model_snapshots_loaded_total", "counter",
         "Published model snapshots this node loaded and installed.", v.loaded);
  scalar(t, "patron_model_snapshot_failures_total", "counter",
         "Snapshots not published or not loaded (database error, checksum or file check).",
         v.failures);
}

static void render_process(daemon_t *d, mtext_t *t) {
  uint64_t used, size;
  store_map_info(d->store, &used, &size);
  metrics_sample_process(d);
  scalar(t, "patron_lmdb_map_used_bytes", "gauge",
         "Bytes of the LMDB map holding pages (up to the last page in use).", used);
  scalar(t, "patron_lmdb_map_size_bytes", "gauge",
         "Size of the LMDB map: the data file's limit until the map grows (store.map_size_mb).",
         size);
  scalar(t, "patron_store_file_bytes", "gauge", "Size of data.mdb on disk.", d->sample.store_bytes);
  scalar(t, "patron_process_resident_memory_bytes", "gauge", "Resident set size (VmRSS).",
         d->sample.rss_bytes);
  scalar(t, "patron_process_peak_resident_memory_bytes", "gauge",
         "Peak resident set size (VmHWM), never below the resident set size.",
         d->sample.peak_rss_bytes);
  rcache_stats_t sum = {0};
  rcache_t *caches[2] = {d->rcache, d->qcache};
  for (int i = 0; i < 2; i++) {
    rcache_stats_t cs;
    if (!caches[i]) continue;
    rcache_stats(caches[i], &cs);
    sum.hits += cs.hits;
    sum.misses += cs.misses;
    sum.entries += cs.entries;
    sum.bytes += cs.bytes;
    sum.evictions += cs.evictions;
  }
  scalar(t, "patron_read_cache_hits_total", "counter", "Answers served from the read caches.",
         sum.hits);
  scalar(t, "patron_read_cache_misses_total", "counter", "Cacheable answers computed.",
         sum.misses);
  scalar(t, "patron_read_cache_evictions_total", "counter", "Cached answers evicted for room.",
         sum.evictions);
  scalar(t, "patron_read_cache_entries", "gauge", "Answers held in the read caches.", sum.entries);
  scalar(t, "patron_read_cache_bytes", "gauge", "Bytes held by the read caches.", sum.bytes);
}

void metrics_render(daemon_t *d, mtext_t *t) {
  mtext_family(t, "patron_build_info", "gauge", "Always 1; the version is a label.");
  sample1(t, "patron_build_info", "version", PATRON_VERSION_STR, 1);
  scalar(t, "patron_uptime_seconds", "gauge", "Seconds since patrond started.",
         (clock_mono_ms() - d->started_ms) / 1000);
  render_requests(d, t);
  render_connections(d, t);
  render_writes(d, t);
  render_models(d, t);
  render_model_fleet(d, t);
  render_process(d, t);
}
