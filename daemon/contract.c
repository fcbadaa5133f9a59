/* contract.c -- the state behind contract.h's debug checks: each thread's role (a
 * thread-local, so no thread ever reads another's) and the connection state table. Empty
 * with NDEBUG. */
#include "contract.h"

#ifndef NDEBUG
#include "daemon.h"

static _Thread_local thread_role_t my_role = THREAD_OTHER;

void contract_set_thread(thread_role_t role) { my_role = role; }
thread_role_t contract_thread(void) { return my_role; }

int contract_conn_transition_ok(int from, int to) {
  switch (from) {
    case CONN_READING: return to == CONN_PAUSED || to == CONN_DRAINING || to == CONN_CLOSED;
    case CONN_PAUSED: return to == CONN_READING || to == CONN_DRAINING || to == CONN_CLOSED;
    case CONN_DRAINING: return to == CONN_DRAINING || to == CONN_CLOSED;
    default: return 0;
  }
}
#else
typedef int contract_c_is_empty_with_ndebug; /* ISO C: a translation unit is not empty */
#endif
