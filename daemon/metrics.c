/* metrics.c -- see metrics.h. A leaf of the daemon's call graph: it calls only log.c and the
 * core (perr, clock, store), so every other daemon file may report to it. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/clock.h"
#include "daemon.h"

const uint64_t metrics_lat_bounds_ns[METRICS_LAT_BUCKETS] = {
    100000,    250000,    500000,    1000000,    2500000,    5000000,    10000000,   25000000,
    50000000,  100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000};
const char *const metrics_lat_bounds_text[METRICS_LAT_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10"};
const uint64_t metrics_batch_bounds[METRICS_BATCH_BUCKETS] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

/* At most LOG_BURST lines of a kind per LOG_WINDOW_MS; the rest are counted and reported by
 * one "N more ... suppressed" line. */
#define LOG_BURST 10
#define LOG_WINDOW_MS 5000

metrics_t *metrics_new(void) {
  metrics_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->error_log = (log_limit_t){.what = "error-answer", .burst = LOG_BURST, .window_ms = LOG_WINDOW_MS};
  m->slow_log = (log_limit_t){.what = "slow-request", .burst = LOG_BURST, .window_ms = LOG_WINDOW_MS};
  return m;
}

void metrics_free(metrics_t *m) { free(m); }

static const char *method_name(int mi) {
  return mi >= 0 && mi < METHOD__COUNT ? method_table[mi].name : METRICS_UNKNOWN_METHOD;
}

void metrics_error(daemon_t *d, int mi, int code, int answered) {
  metrics_t *m = d->metrics;
  if (!m) return;
  int slot = code < 0 && -code < METRICS_ERR_SLOTS ? -code : -PERR_INTERNAL;
  m->errors[mi >= 0 && mi < METHOD__COUNT ? mi : METHOD__COUNT][slot]++;
  if (answered && log_limit_allow(&m->error_log, LOG_LVL_INFO, uv_now(d->loop)))
    log_info("error answer: method %s, code %s", method_name(mi), perr_name(-slot));
}

static unsigned bucket_of(const uint64_t *bounds, unsigned n, uint64_t v) {
  unsigned i = 0;
  while (i < n && v > bounds[i]) i++;
  return i; /* n = +Inf */
}

void metrics_latency(daemon_t *d, int mi, uint64_t ns) {
  metrics_t *m = d->metrics;
  if (!m || mi < 0 || mi >= METHOD__COUNT) return;
  metrics_hist_t *h = &m->latency[mi];
  h->bucket[bucket_of(metrics_lat_bounds_ns, METRICS_LAT_BUCKETS, ns)]++;
  h->sum_ns += ns;
  uint64_t slow_ms = d->cfg.log_slow_request_ms;
  if (slow_ms && ns >= slow_ms * 1000000 &&
      log_limit_allow(&m->slow_log, LOG_LVL_INFO, uv_now(d->loop)))
    log_info("slow request: method %s took %llu ms (log.slow_request_ms = %llu)", method_name(mi),
             (unsigned long long)(ns / 1000000), (unsigned long long)slow_ms);
}

void metrics_commit(metrics_t *m, uint64_t n, uint64_t ns) {
  if (!m) return;
  atomic_fetch_add_explicit(&m->batch_bucket[bucket_of(metrics_batch_bounds, METRICS_BATCH_BUCKETS, n)],
                            1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->batch_sum, n, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->commit_bucket[bucket_of(metrics_lat_bounds_ns, METRICS_LAT_BUCKETS, ns)],
                            1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->commit_sum_ns, ns, memory_order_relaxed);
}

void metrics_tick(daemon_t *d, uint64_t now_ms) {
  if (!d->metrics) return;
  log_limit_tick(&d->metrics->error_log, LOG_LVL_INFO, now_ms);
  log_limit_tick(&d->metrics->slow_log, LOG_LVL_INFO, now_ms);
}

/* VmRSS and VmHWM from /proc/self/status, bytes (0 when unreadable). */
static void read_proc_status(uint64_t *rss, uint64_t *hwm) {
  char line[256];
  unsigned long long kb;
  FILE *f = fopen("/proc/self/status", "r");
  *rss = *hwm = 0;
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) *rss = (uint64_t)kb * 1024;
    else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) *hwm = (uint64_t)kb * 1024;
  }
  fclose(f);
}

/* The readings stats and the metrics report from the kernel (RSS, peak RSS, the store file's
 * size): a /proc read and two system calls, most of a stats call's cost, so they are refreshed
 * at most every SAMPLE_MS (stale by that much at worst).
 * Peak RSS: getrusage's ru_maxrss comes from the kernel's approximate per-CPU RSS counters,
 * while /proc reports the exact sums (Linux >= 6.x), so ru_maxrss could read below the RSS
 * (issue 11). Both now come from one read of /proc/self/status (VmHWM is the high-water
 * mark of the same exact sum), and the peak is the largest of VmHWM, ru_maxrss and the RSS
 * itself, so peak >= rss always holds in one sample. */
#define SAMPLE_MS 100

void metrics_sample_process(daemon_t *d) {
  uint64_t now = clock_mono_ms();
  if (d->sample.at_ms && now - d->sample.at_ms < SAMPLE_MS) return;
  struct rusage ru;
  uint64_t rss, hwm, maxrss = 0;
  read_proc_status(&rss, &hwm);
  if (getrusage(RUSAGE_SELF, &ru) == 0) maxrss = (uint64_t)ru.ru_maxrss * 1024;
  d->sample.at_ms = now;
  d->sample.rss_bytes = rss;
  d->sample.peak_rss_bytes = hwm > maxrss ? hwm : maxrss;
  if (d->sample.peak_rss_bytes < rss) d->sample.peak_rss_bytes = rss;
  d->sample.store_bytes = store_size_bytes(d->store);
}
