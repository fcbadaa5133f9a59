/* offers_wire.h -- what the offers handler files share (handlers_offers.c: lifecycle,
 * catalogue, keys, experiments; handlers_offers_decide.c: decide, exposures, redeem, event;
 * offers_params.c: reading the free-form params map as JSON; offers_keys.c: the key ring).
 * Invariants: catalog and the exposure cache belong to the loop thread; keys points to an
 * immutable ring that offers_keys.c replaces whole, so any thread may read the
 * ring it loaded (old rings live until offers_wire_destroy); global_holdout and data_dir are
 * copied at start and never change (the worker reads them). */
#ifndef PATRON_OFFERS_WIRE_H
#define PATRON_OFFERS_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "daemon.h"
#include "loyalty/loyalty.h"
#include "offers/offers.h"

#define OFFERS_EXPOSED_SLOTS 4096 /* direct-mapped cache of exposures already queued */

typedef struct offers_ring_node_s {
  offers_keyring_t ring;
  struct offers_ring_node_s *older;
} offers_ring_node_t;

struct offers_wire_s {
  offers_catalog_t *catalog;           /* loop thread only */
  uint64_t catalog_gen;                /* generation of the installed snapshot */
  uint64_t rebuild_gen;                /* last generation asked for */
  int rebuilding;                      /* a rebuild job is on the worker */
  _Atomic(offers_ring_node_t *) keys;  /* the current ring (newest node) */
  double global_holdout;               /* [offers] global_holdout, read at start (immutable) */
  const char *data_dir;                /* where offers.key lives (immutable copy) */
  int shared_keys;                     /* the ring is the shared store's record (immutable) */
  int keys_provisional;                /* shared, but offers.key until the fleet's arrives (loop) */
  uint64_t draws;                      /* bandit seed counter (loop thread) */
  offers_signer_t *signer;             /* loop thread: offers.decide's tokens (lazily made) */
  offers_counter_memo_t *counters;     /* loop thread: offers.decide's budgets and arm
                                        * counters (lazily made; exact: see offers.h) */
  loy_program_memo_t *loyalty;         /* loop thread: offers.decide's decoded loyalty program
                                        * (lazily made; checked against the store each read) */
  offers_attr_pool_t *attr_pool;       /* loop thread: offers.decide's attribute values,
                                        * reused in place (lazily made; see offers.h) */
  uint64_t exposed[OFFERS_EXPOSED_SLOTS]; /* loop thread: hashes of queued exposures */
  log_limit_t expose_log;              /* "exposure not queued" lines */
};

/* The key ring in force now (any thread). */
static inline const offers_keyring_t *offers_wire_keys(daemon_t *d) {
  return &atomic_load(&d->offers->keys)->ring;
}

/* ---- the key ring (offers_keys.c) ---- */

/* The ring at start (the key file, or the shared store's record) published in d->offers. */
int offers_keys_init(daemon_t *d, perr_info_t *e);
/* The ring a write job verifies with: on a shared store the one in its own write txn (exact
 * under the fleet's write lock, whatever the feed's lag; copied into buf), else the ring in
 * force. The writer thread. */
const offers_keyring_t *offers_wire_keys_for_write(exec_ctx_t *x, offers_keyring_t *buf);

/* ---- params (offers_params.c) ---- */

/* The request's params map as a JSON object; allowed (NULL-terminated, or NULL: anything)
 * lists the accepted keys, another key is invalid_params naming it. */
int offers_params_json(const void *p, const char *const *allowed, json_t **out, perr_info_t *e);
/* Member k of o: a string of 1..max bytes; absent/null is an error when req. */
int offers_jstr(const json_t *o, const char *field, const char *k, int req, size_t max,
                const char **out, perr_info_t *e);
int offers_jint(const json_t *o, const char *field, const char *k, int req, int64_t lo,
                int64_t hi, int64_t *out, perr_info_t *e);
int offers_jdbl(const json_t *o, const char *field, const char *k, double lo, double hi,
                double *out, perr_info_t *e);
int offers_jbool(const json_t *o, const char *field, const char *k, bool *out, perr_info_t *e);
/* Pack j (stolen) as the job's result. */
int offers_answer(exec_ctx_t *x, json_t *j, void *r, perr_info_t *e);
/* A cart {currency, value?, lines?: [{product_id, category?, quantity?, unit_price}]}: lines
 * in the arena, strings point into j; value defaults to the lines' sum. */
int offers_read_cart(exec_ctx_t *x, const json_t *j, int req, offers_cart_t *c, perr_info_t *e);

/* ---- handlers_offers_decide.c ---- */

/* Queue the exposures of a decision on the writer (offers.expose), skipping the ones
 * already queued (the cache); loop thread. */
void offers_expose_queue(daemon_t *d, const char *customer, const offers_cart_t *cart,
                         int64_t now, const offers_decision_t *dec);

/* The fast paths' string rule (offers.decide, experiments.assign): a msgpack string of 1..max
 * bytes holding no NUL. */
static inline bool offers_wire_plain_str(const msgpack_object *o, size_t max) {
  if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size > max)
    return false;
  return !mp_has_nul(o->via.str.ptr, o->via.str.size);
}

#endif
