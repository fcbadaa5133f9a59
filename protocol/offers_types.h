/* offers_types.h -- wire types of the offers and experiments methods (issue 9). Their params
 * are free-form maps (an offer definition, an eligibility rule, shop attributes), so they
 * travel as the msgpack map itself and the handler reads it as a jansson object; their
 * results are msgpack bytes the handler packed into the job's arena.
 * Invariants: raw_params_t.obj points into the request's zone (lives as long as the job);
 * json_blob_t bytes are one complete msgpack object (n = 0 encodes nil). */
#ifndef PATRON_OFFERS_TYPES_H
#define PATRON_OFFERS_TYPES_H

#include <jansson.h>
#include <msgpack.h>

#include "base/arena.h"
#include "base/perr.h"
#include "offers/offers.h"

typedef struct raw_params_s { msgpack_object obj; } raw_params_t;
typedef struct json_blob_s { const char *p; size_t n; } json_blob_t;

/* msgpack -> jansson: maps need string keys; integers above INT64_MAX, bin and ext are
 * invalid_params naming the path (prefix "" for the top). NULL on error, e set. */
json_t *mp_to_json(const msgpack_object *o, const char *path, perr_info_t *e);
/* Pack j (jansson) as msgpack into the arena as one blob. 0, or PERR_NO_MEMORY. */
int json_blob_make(arena_t *a, const json_t *j, json_blob_t *out, perr_info_t *e);

/* offers.decide's answer {global_holdout, offers: [{offer_id, arm, variant, held_out, value,
 * discount, currency, expected_value, uplift, impression_id, expires, reason, token}]} packed
 * straight into out: the bytes msgpack-c's packer writes for it (the smallest forms, str8
 * for strings of 32..255 bytes, float64). offers_decision_packed_max bounds the size;
 * offers_decision_pack needs out to hold that many and returns the bytes written. */
size_t offers_decision_packed_max(const offers_decision_t *d);
size_t offers_decision_pack(const offers_decision_t *d, char *out);

#endif
