/* exec.c -- what every handler runs with, wherever it runs (loop, writer, worker): the
 * background job object (job_new / job_free) and the handler's lazily opened read
 * transaction (exec_txn), and the handler's clock (exec_clock; exec_clock_at on the loop reads
 * the wall clock at most once per millisecond). Depends on no other daemon file, so handlers, the queues, the
 * server and the models all use it without calling each other.
 * Invariant: a job owns its arena, params and result (sized from the method table) and the
 * request's zone; job_free releases all of them. */
#include <stdlib.h>

#include "base/clock.h"
#include "daemon.h"

void exec_clock(exec_ctx_t *x) {
  x->now_ms = clock_wall_ms() + 1000 * (int64_t)atomic_load(&x->d->clock_offset_s);
  x->now = x->now_ms / 1000;
}

void exec_clock_at(exec_ctx_t *x, uint64_t mono_ns) {
  static _Thread_local uint64_t read_at_ns; /* when this thread last read the wall clock */
  static _Thread_local int64_t wall_ms;
  if (!read_at_ns || mono_ns < read_at_ns || mono_ns - read_at_ns >= 1000000) {
    wall_ms = clock_wall_ms();
    read_at_ns = mono_ns;
  }
  x->now_ms = wall_ms + 1000 * (int64_t)atomic_load(&x->d->clock_offset_s);
  x->now = x->now_ms / 1000;
}

store_txn_t *exec_txn(exec_ctx_t *x, perr_info_t *e) {
  if (!x->txn && store_txn_begin(x->store, 0, &x->txn)) {
    x->txn = NULL;
    perr_set(e, PERR_UNAVAILABLE, NULL, "store unavailable");
  }
  return x->txn;
}

wjob_t *job_new(int method, size_t arena_limit) {
  const method_desc_t *md = &method_table[method];
  wjob_t *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  arena_init(&j->arena, arena_limit);
  j->method = method;
  j->params = arena_alloc(&j->arena, md->params_size);
  j->result = arena_alloc(&j->arena, md->result_size);
  if (!j->params || !j->result) {
    job_free(j);
    return NULL;
  }
  return j;
}

void job_free(wjob_t *job) {
  if (job->zone) msgpack_zone_free(job->zone);
  arena_free(&job->arena);
  free(job);
}
