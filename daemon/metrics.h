/* metrics.h -- patrond's measurement registry: what the Prometheus exposition (metrics_text.c)
 * reports beyond the counters daemon_t already keeps for stats: errors by method and code,
 * latency histograms by method, the writer's group-commit batch sizes and commit latency, and
 * the process's memory readings; plus the error-answer and slow-request log lines.
 * Threads: everything is updated on the loop thread, except the two writer histograms
 * (metrics_commit, writer thread), whose buckets are relaxed atomics read by the loop thread.
 * Histograms keep one count per bucket (not cumulative); a reader sums them, so the +Inf
 * bucket always equals _count even while the writer is adding to them. */
#ifndef PATRON_METRICS_H
#define PATRON_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "log.h"
#include "methods.h"

typedef struct daemon_s daemon_t;

/* Error codes are -1..-PERR_SLOTS+1 (base/perr.h); slot = -code. */
#define METRICS_ERR_SLOTS 16
/* Latency and commit-duration bucket bounds, nanoseconds (upper bounds; +Inf follows). */
#define METRICS_LAT_BUCKETS 16
#define METRICS_BATCH_BUCKETS 14
/* The method label of requests with no known method (unknown name, malformed message). */
#define METRICS_UNKNOWN_METHOD "(unknown)"

extern const uint64_t metrics_lat_bounds_ns[METRICS_LAT_BUCKETS];
extern const char *const metrics_lat_bounds_text[METRICS_LAT_BUCKETS]; /* the le labels */
extern const uint64_t metrics_batch_bounds[METRICS_BATCH_BUCKETS];

typedef struct metrics_hist_s {      /* loop thread */
  uint64_t bucket[METRICS_LAT_BUCKETS + 1];
  uint64_t sum_ns;
} metrics_hist_t;

typedef struct metrics_s {
  /* loop thread */
  uint64_t errors[METHOD__COUNT + 1][METRICS_ERR_SLOTS]; /* [METHOD__COUNT] = unknown method */
  metrics_hist_t latency[METHOD__COUNT];
  log_limit_t error_log, slow_log;
  /* writer thread adds, loop thread reads */
  atomic_uint_fast64_t batch_bucket[METRICS_BATCH_BUCKETS + 1], batch_sum;
  atomic_uint_fast64_t commit_bucket[METRICS_LAT_BUCKETS + 1], commit_sum_ns;
} metrics_t;

metrics_t *metrics_new(void);
void metrics_free(metrics_t *m);

/* Loop thread: a request of method mi (-1 = unknown) failed with code; answered = an error
 * answer was sent (a failed notification has none). Counts it and logs one info line
 * (method and code only: never ids or params), rate-limited. */
void metrics_error(daemon_t *d, int mi, int code, int answered);
/* Loop thread: a request of method mi was answered (or failed) ns after it was dispatched.
 * Logs a rate-limited info line when it took log.slow_request_ms or more (0 = never). */
void metrics_latency(daemon_t *d, int mi, uint64_t ns);
/* Writer thread: a batch of n writes whose commit (write + fsync) took ns. */
void metrics_commit(metrics_t *m, uint64_t n, uint64_t ns);
/* Loop thread, periodically: closes the log limiters' windows (their "suppressed" lines). */
void metrics_tick(daemon_t *d, uint64_t now_ms);

/* Loop thread: refresh d->sample (RSS, peak RSS, store size) if older than 100 ms. The peak
 * is never below the RSS read with it (see metrics.c). */
void metrics_sample_process(daemon_t *d);

#endif
