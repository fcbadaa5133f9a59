/* daemon.h -- patrond's process-wide state and the types shared by its files:
 * server.c (listeners, connections, dispatch), jobs.c (the writer's group commit and the
 * worker), exec.c (jobs and the handler's transaction), handlers*.c (the handler column of
 * the method table), models.c + model_*.c (background-built models), main.c (start-up,
 * signals, shutdown; wires the files together with callbacks).
 * Calls among daemon files go one way (no cycles; scripts/check_daemon_deps.sh checks it):
 * main -> server -> handlers* -> model_* -> models -> jobs -> exec (and each may call those
 * further down, plus log.c and metrics.c, a leaf; main -> http_metrics -> metrics_text ->
 * models for the exposition). Whatever goes back up (finished jobs, committed writes,
 * notifications) goes through a callback main.c hands over.
 * Threads: the libuv loop thread owns everything here (cfg included: a SIGHUP rewrites it)
 * except the queues (their mutexes) and the atomic counters the writer and worker bump; the
 * writer and the worker never read cfg, they get what they need handed over
 * (jobq_set_batch_max, the model build settings). contract.h checks in debug builds which
 * thread runs what. */
#ifndef PATRON_DAEMON_H
#define PATRON_DAEMON_H

#include <msgpack.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "base/arena.h"
#include "config.h"
#include "guard.h"
#include "log.h"
#include "methods.h"
#include "base/perr.h"
#include "store/store.h"

#define PATRON_VERSION_STR "0.1.0"

typedef struct daemon_s daemon_t;
typedef struct conn_s conn_t;
typedef struct jobq_s jobq_t;

/* Connection lifetime: READING -> (PAUSED <-> READING) -> DRAINING -> CLOSED.
 * PAUSED: reading stopped because answers are not being read (output cap) or too many writes
 * await commit. DRAINING: a fatal protocol error was answered; close once output is flushed.
 * CLOSED: uv_close called; the struct lives until its last reference (in-flight writes) goes. */
typedef enum { CONN_READING, CONN_PAUSED, CONN_DRAINING, CONN_CLOSED, CONN__MAX } conn_state_t;

struct conn_s {
  union { /* the stream: a Unix socket, or TCP for the TLS listener (same uv_stream_t head) */
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  };
  struct tls_conn_s *tls;     /* the TLS session (tls.h), NULL on the Unix sockets */
  daemon_t *d;
  conn_t *prev, *next;
  conn_state_t state;
  int admin;                  /* accepted on the admin socket */
  int refs;                   /* 1 for the handle + 1 per write in flight */
  msgpack_unpacker up;
  msgpack_object msg;          /* the message being dispatched (lives in up's zone) */
  guard_t guard;
  msgpack_sbuffer out;        /* answers built but not yet handed to the socket */
  msgpack_packer pk;
  size_t out_queued;          /* bytes in uv_write requests not yet completed */
  uint32_t inflight;          /* writes awaiting commit */
  int subscribed;             /* receives customer.changed notifications */
  uint64_t last_active_ms;    /* last read */
  uint64_t partial_since_ms;  /* when the pending partial message started, 0 = none */
  uint64_t out_moved_ms;      /* last progress of the queued output (out_queued > 0) */
  int backlog;                /* complete input left unexecuted (output cap): run on resume */
  int fail_status;            /* guard violation after the backlog (guard_status_t), 0 = none */
  int fail_has_msgid;
  uint32_t fail_msgid;
  int64_t uid;                /* peer user id (SO_PEERCRED), -1 unknown */
  int has_sent;               /* has sent bytes: connections that never did are evicted first */
  int up_gone;                /* `up` was destroyed and could not be re-initialised (closed) */
  int in_turns;               /* queued for another turn (d->turn_head list, holds a ref) */
  conn_t *turn_next;
  int in_flush;               /* answers wait for the end of the I/O phase (d->flush_head list,
                               * holds a ref) */
  conn_t *flush_next;
};

/* A request on its way through a background thread (writer or worker) and back. */
typedef struct wjob_s {
  struct wjob_s *next;
  conn_t *conn;               /* NULL for internal jobs (scheduled model rebuilds) */
  int method;
  int reply;                  /* 0 for notifications */
  uint32_t msgid;
  msgpack_zone *zone;         /* keeps the request's strings alive */
  arena_t arena;
  void *params, *result;
  int rc;
  perr_info_t err;
  /* Optional, set by the handler: runs on the loop thread before the answer is encoded
   * (e.g. to swap in a model snapshot the worker built). */
  void (*on_loop)(daemon_t *d, struct wjob_s *job);
  void *hook_data;            /* what on_loop needs (in the job's arena), or NULL */
  uint64_t start_ns;          /* uv_hrtime() when dispatched: the request's latency (metrics) */
} wjob_t;

/* What a handler gets. txn: the writer's write txn, or a read txn opened on first use.
 * conn: the requesting connection for loop-thread reads (NULL on the writer/worker).
 * job: the background job being run (NULL for loop-thread reads). */
typedef struct exec_ctx_s {
  daemon_t *d;
  conn_t *conn;
  struct wjob_s *job;
  store_t *store;
  store_txn_t *txn;
  int write;
  arena_t *arena;
  int64_t now;
  int64_t now_ms;
} exec_ctx_t;

typedef int (*method_exec_fn)(exec_ctx_t *x, const void *params, void *result, perr_info_t *e);
extern const method_exec_fn handler_table[METHOD__COUNT];
/* Every handler: handle_<id>, defined in handlers*.c or the model_*.c that owns the method. */
#define XX(id, name, pt, rt, flags, cache, data, affects, raw, summary) \
  int handle_##id(exec_ctx_t *x, const void *params, void *result, perr_info_t *e);
#include "methods.def"
#undef XX
/* exec.c: the transaction for a handler (opens a read txn lazily); NULL on failure, e set. */
store_txn_t *exec_txn(exec_ctx_t *x, perr_info_t *e);
/* exec.c: x->now / x->now_ms from the daemon's clock (wall clock + the test offset). */
void exec_clock(exec_ctx_t *x);
/* The same for a request that started at mono_ns (uv_hrtime()): the wall clock read at most
 * once per millisecond of the monotonic clock per thread, so at most 1 ms old. */
void exec_clock_at(exec_ctx_t *x, uint64_t mono_ns);

/* handlers_loyalty.c: the periodic expiry pass (a timer on the loop submitting chunks to the
 * writer) and its shutdown; loyalty_follow_order / _refund run inside order.record /
 * order.refund's savepoint (handlers.c). */
int loyalty_start(daemon_t *d);
void loyalty_stop(daemon_t *d);
/* loyalty_file.c: apply [loyalty] program_file when its SHA-256 differs from the recorded one
 * (start, SIGHUP); _applied logs the outcome of the job it queued (from after_program_set). */
void loyalty_program_file_sync(daemon_t *d);
void loyalty_program_file_applied(daemon_t *d, wjob_t *j);
int loyalty_follow_order(exec_ctx_t *x, const order_t *o, perr_info_t *e);
int loyalty_follow_refund(exec_ctx_t *x, const refund_t *rf, perr_info_t *e);
/* customer.get's loyalty fields (program = 0 when no program was ever set). */
int loyalty_customer_fields(exec_ctx_t *x, store_txn_t *t, pstr_t id, cust_loyalty_t *out,
                            perr_info_t *e);

#define DAEMON_LISTENERS 3
#define LISTENER_TLS 2 /* index of the TLS listener */
typedef struct listener_s {
  union {
    uv_pipe_t pipe;
    uv_tcp_t tcp;             /* the TLS listener */
  };
  int active, admin, tls;
  unsigned accepts;           /* since the last deferral: see ACCEPT_BURST in server.c */
  int deferred;               /* a pending connection waits for the check phase */
  char path[CONFIG_PATH_MAX];
} listener_t;

typedef struct counters_s {
  uint64_t conns_total, conns_rejected, conns_closed_limit;
  uint64_t conns_evicted_idle, conns_closed_write_timeout, conns_closed_memory;
  uint64_t tls_handshake_failures; /* TLS connections refused: certificate, version, not TLS */
  uint64_t protocol_errors, requests, errors, bytes_in, bytes_out;
  method_counters_t by_method[METHOD__COUNT];
} counters_t;

struct daemon_s {
  uv_loop_t *loop;
  settings_t cfg;
  const char *config_file;    /* NULL when running on defaults + flags */
  store_t *store;
  jobq_t *writer;             /* write transactions, group commit */
  jobq_t *worker;             /* slow reads and model rebuilds */
  struct feed_s *feed;        /* shared store: the change-feed thread (feed.h), else NULL */
  struct models_s *models;    /* model snapshots (models.h) */
  struct model_fleet_s *fleet; /* shared store: the model-leader thread (model_fleet.h) */
  struct offers_wire_s *offers; /* offer catalogue and token keys (handlers_offers.c) */
  /* Loop thread, after a write job committed (main.c: models_after_write). */
  void (*after_write)(daemon_t *d, wjob_t *job);
  struct rcache_s *rcache;    /* encoded answers of M_CACHED methods (src/readcache.h) */
  struct rcache_s *qcache;    /* encoded answers of M_CACHED_QUERY methods */
  msgpack_sbuffer qkey;       /* a request's params, flattened: the qcache key (server.c) */
  listener_t listeners[DAEMON_LISTENERS]; /* shop socket, admin socket, TLS (tls.h) */
  struct tls_server_s *tls;   /* the TLS listener's context, NULL when [tls] listen is empty */
  conn_t *conns;
  uint64_t nconns;
  uint64_t nconns_admin;      /* of nconns, accepted on the admin socket */
  counters_t c;
  atomic_uint_fast64_t writes_committed, write_batches, write_failures, write_queue, work_queue;
  uint64_t started_ms;
  int stopping;
  atomic_int exit_status; /* non-zero: main returns it (75 after a fatal store error) */
  int exit_code;
  arena_t read_arena;         /* reused by every read request */
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t sweep, watchdog, drain;
  uv_check_t accept_check;    /* resumes deferred accepts after the loop's I/O phase */
  uv_idle_t turns;            /* runs the next turn of connections with a backlog */
  conn_t *turn_head, *turn_tail;
  uv_check_t flush_check;     /* writes the answers of the reads of the I/O phase just ended */
  conn_t *flush_head;
  log_limit_t close_log;      /* "closing a connection: ..." lines, rate-limited */
  char write_fault[160];      /* why the last write batch failed ("" = the last one committed):
                               * health says degraded with this reason meanwhile */
  uint64_t write_fault_ms;    /* clock_mono_ms when write_fault was last set */
  /* The daemon's clock = wall clock + this offset (seconds); only debug.clock changes it,
   * and only when started with --test-clock (test_clock = 1). Read by every thread. */
  int test_clock;
  atomic_int_fast64_t clock_offset_s;
  struct loyalty_rt_s *loyalty; /* handlers_loyalty.c: the expiry timer, pass chains */
  struct metrics_s *metrics;  /* metrics.h: errors by code, latency histograms, commit sizes */
  struct http_metrics_s *http_metrics; /* http_metrics.c: the /metrics listener, textfile */
  struct {                    /* stats' process readings (loop thread): taken at most once
                               * per STATS_SAMPLE_MS, so a stream of stats stays cheap */
    uint64_t at_ms, rss_bytes, peak_rss_bytes, store_bytes;
  } sample;
};

/* server.c */
int server_listen(daemon_t *d, listener_t *l, const char *path, unsigned mode,
                  const char *group, int admin);
/* The TLS listener on cfg's [tls] listen, with d->tls made (tls_server_new) beforehand. */
int server_listen_tls(daemon_t *d, listener_t *l);
void server_close_listeners(daemon_t *d);
void server_start_timers(daemon_t *d);
void server_stop_reading_all(daemon_t *d);
int server_idle(daemon_t *d);  /* no writes in flight and all answers flushed */
void server_close_all(daemon_t *d);
/* Finished background jobs: run their on_loop hooks and answer them (loop thread). */
void server_jobs_done(daemon_t *d, wjob_t *jobs);
/* Send notifications [2, method, [params]] 0..n-1 to every subscribed connection, in order;
 * pack writes notification i's params map. Written in 64 KiB batches, each connection
 * flushed once at the end; a connection that is closing or over its output cap gets none of
 * the rest. Adds to *sent and *dropped. */
void server_publish(daemon_t *d, const char *method,
                    void (*pack)(msgpack_packer *pk, const void *ctx, size_t i), const void *ctx,
                    size_t n, uint64_t *sent, uint64_t *dropped);

/* jobs.c: write=1 the writer (group commit), write=0 the worker (slow reads, rebuilds).
 * handlers: the method table's handlers; on_done: gets finished jobs on the loop thread
 * (main.c: server_jobs_done), also from jobq_stop. */
typedef void (*jobq_done_fn)(daemon_t *d, wjob_t *jobs);
jobq_t *jobq_start(daemon_t *d, int write, const method_exec_fn *handlers, jobq_done_fn on_done);
/* 0, or PERR_UNAVAILABLE when the queue is full or stopping. */
int jobq_submit(jobq_t *q, wjob_t *job);
/* The writer's batch limit (store.group_commit_max), e.g. after a reload; loop thread. */
void jobq_set_batch_max(jobq_t *q, uint64_t max);
/* Let the loop exit while the queue's async handle is still open. */
void jobq_unref(jobq_t *q);
/* Finish the queue, join the thread, hand back what finished. */
void jobq_stop(jobq_t *q);
/* exec.c: a job with its own arena (limit bytes), params and result of the method's sizes. */
wjob_t *job_new(int method, size_t arena_limit);
void job_free(wjob_t *job);

#endif
