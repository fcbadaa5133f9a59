/* model_clv.c -- the CLV/segments model kind (issue 3). Being wired: builds nothing yet. */
#include <stdlib.h>
#include <string.h>

#include "models.h"

typedef struct clv_state_s { int unused; } clv_state_t;

static int clv_init(daemon_t *d, void **state) {
  (void)d;
  *state = calloc(1, sizeof(clv_state_t));
  return *state ? 0 : -1;
}
static void clv_destroy(void *state) { free(state); }
static void *clv_build(daemon_t *d, void *state, store_txn_t *t, perr_info_t *e) {
  (void)d; (void)state; (void)t;
  perr_set(e, PERR_INSUFFICIENT_DATA, NULL, "not built yet");
  return NULL;
}
static void clv_install(daemon_t *d, void *state, void *built) { (void)d; (void)state; free(built); }
static void clv_discard(void *built) { free(built); }
static void clv_info(void *state, model_info_t *out) {
  (void)state;
  memset(out, 0, sizeof *out);
  out->status = "empty";
}

const model_kind_t model_kind_clv = {"clv", clv_init, clv_destroy, clv_build, clv_install,
                                     clv_discard, clv_info, NULL, NULL};
