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
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/perr.h"
#include "offers/offers.h"

typedef struct raw_params_s { msgpack_object obj; } raw_params_t;

/* Whether s[0..n) holds a NUL byte (the fast readers' string rule: an id with a NUL is the
 * general path's to refuse): 8 bytes a step (4..7 bytes: two 4-byte words), the last step
 * overlapping, no byte beyond the string read. */
static inline bool mp_has_nul(const char *s, size_t n) {
  const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
  if (n < 8) {
    if (n >= 4) { /* two 4-byte words, overlapping */
      uint32_t a, b;
      memcpy(&a, s, 4);
      memcpy(&b, s + n - 4, 4);
      return (((a - 0x01010101u) & ~a) | ((b - 0x01010101u) & ~b)) & 0x80808080u;
    }
    for (size_t i = 0; i < n; i++)
      if (!s[i]) return true;
    return false;
  }
  uint64_t w, any = 0;
  for (size_t i = 0; i + 8 < n; i += 8) {
    memcpy(&w, s + i, 8);
    any |= (w - ones) & ~w & highs; /* nonzero iff some byte of w is 0 */
  }
  memcpy(&w, s + n - 8, 8);
  return (any | ((w - ones) & ~w & highs)) != 0;
}
typedef struct json_blob_s { const char *p; size_t n; } json_blob_t;

/* offers.decide's request in its common shape (codec_offers_decide.c): the customer and the
 * cart's strings NUL-terminated in the arena; shop: the attributes map (borrowing the
 * request), NULL when absent or nil. */
typedef struct offers_decide_req_s {
  const char *customer;
  int64_t max_offers; /* 0: absent */
  offers_cart_t cart;
  const msgpack_object *shop;
} offers_decide_req_t;
/* offers.decide's params: the map (raw, first, so every raw_params_t reader reads it), or
 * with fast set the request its raw decoder (methods.def's raw column) read from the bytes
 * (raw.obj is then nil and never read). */
typedef struct offers_decide_params_s {
  raw_params_t raw;
  bool fast;
  offers_decide_req_t req;
} offers_decide_params_t;
/* The common shape read from the params map o (the handler's fast path): true with *q set
 * when it is that shape, every value valid as the general path would find it; false for
 * anything else (another key, a repeated one, nil where a value is needed, a bad value, a
 * nested attribute value that would not convert to JSON): the general path reads it and
 * names any error. raw_offers_decide reads the same shape from the bytes into the same *q. */
bool offers_decide_read(arena_t *a, const msgpack_object *o, offers_decide_req_t *q);

/* msgpack -> jansson: maps need string keys; integers above INT64_MAX, bin and ext are
 * invalid_params naming the path (prefix "" for the top). NULL on error, e set. */
json_t *mp_to_json(const msgpack_object *o, const char *path, perr_info_t *e);
/* A msgpack scalar typed as condition_value_from_json makes mp_to_json's value of it: null,
 * boolean, integer, real (any: json_real refuses a non-finite one, which
 * offers_attrs_set_shop_typed refuses too), string (copied NUL-terminated into a); false for
 * anything else (an array, a map, an integer above INT64_MAX, a string holding a NUL, out of
 * memory). */
bool mp_scalar_value(arena_t *a, const msgpack_object *o, condition_value_t *v);
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
