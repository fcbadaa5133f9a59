/* model_recs.c -- the recommendations model kind (issue 4). Being wired: builds nothing yet. */
#include <stdlib.h>
#include <string.h>

#include "models.h"

typedef struct recs_state_s { int unused; } recs_state_t;

static int recs_init(daemon_t *d, void **state) {
  (void)d;
  *state = calloc(1, sizeof(recs_state_t));
  return *state ? 0 : -1;
}
static void recs_destroy(void *state) { free(state); }
static void *recs_build(daemon_t *d, void *state, store_txn_t *t, perr_info_t *e) {
  (void)d; (void)state; (void)t;
  perr_set(e, PERR_INSUFFICIENT_DATA, NULL, "not built yet");
  return NULL;
}
static void recs_install(daemon_t *d, void *state, void *built) { (void)d; (void)state; free(built); }
static void recs_discard(void *built) { free(built); }
static void recs_info(void *state, model_info_t *out) {
  (void)state;
  memset(out, 0, sizeof *out);
  out->status = "empty";
}

const model_kind_t model_kind_recs = {"recs", recs_init, recs_destroy, recs_build, recs_install,
                                     recs_discard, recs_info, NULL, NULL};
