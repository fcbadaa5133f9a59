/* contract.h -- patrond's run-time contracts, checked in debug builds like libuv's asserts
 * (a violation aborts with file:line; compiled out with NDEBUG, so release builds pay
 * nothing). What they check:
 *  - which thread may run a function: each thread records its role once (the loop thread in
 *    main, the writer and the worker when they start) and CONTRACT_THREAD(role) compares;
 *  - a handler that writes runs on the writer inside a write transaction (a savepoint);
 *  - connection state transitions (conn_state_t in daemon.h) are the legal ones.
 * Invariant: the contracts only read; code behaves the same with or without them. */
#ifndef PATRON_CONTRACT_H
#define PATRON_CONTRACT_H

#include <assert.h>

typedef enum {
  THREAD_OTHER = 0, /* not one of patrond's own (tests, libuv's thread pool) */
  THREAD_LOOP,      /* the libuv loop: connections, dispatch, reads, answers */
  THREAD_WRITER,    /* group commit: every write transaction */
  THREAD_WORKER     /* slow reads and model rebuilds */
} thread_role_t;

#ifdef NDEBUG
#define contract_set_thread(role) ((void)0)
#define CONTRACT_THREAD(role) ((void)0)
#define CONTRACT_NOT_THREAD(role) ((void)0)
#define CONTRACT_WRITE_TXN(x) ((void)0)
#define CONTRACT_CONN_TRANSITION(from, to) ((void)0)
#else
/* The calling thread's role (one thread-local per thread). */
void contract_set_thread(thread_role_t role);
thread_role_t contract_thread(void);
/* 1 if a connection may go from state `from` to `to`:
 *   READING -> PAUSED | DRAINING | CLOSED;  PAUSED -> READING | DRAINING | CLOSED;
 *   DRAINING -> DRAINING | CLOSED;  CLOSED -> nothing (its struct only waits for its refs). */
int contract_conn_transition_ok(int from, int to);

#define CONTRACT_THREAD(role) assert(contract_thread() == (role) && "called on the wrong thread")
#define CONTRACT_NOT_THREAD(role) assert(contract_thread() != (role) && "called on the wrong thread")
/* x: an exec_ctx_t * of a write handler. */
#define CONTRACT_WRITE_TXN(x)                                                          \
  assert((x)->write && (x)->txn && contract_thread() == THREAD_WRITER &&              \
         "a write handler runs on the writer inside a write transaction")
#define CONTRACT_CONN_TRANSITION(from, to) \
  assert(contract_conn_transition_ok((from), (to)) && "illegal connection state transition")
#endif

#endif
