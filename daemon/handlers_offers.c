/* handlers_offers.c -- the offers and experiments methods (issue 9) and the served offer
 * catalogue: an immutable snapshot (offers_catalog_t) built from the store at start and
 * rebuilt on the loop thread after each committed offers.set / offers.archive, and the token
 * key ring opened (created at first start, mode 0600) in the data directory.
 * Params arrive as the request's map (read here as JSON: an offer definition and shop
 * attributes are free-form); results are packed from JSON into the job's arena.
 * Invariants: the catalogue is read and swapped only on the loop thread (offers.decide runs
 * there); the key ring never changes after start, so the writer reads it freely; every
 * unknown or mistyped field is invalid_params naming it, and changes nothing. */
#include <string.h>
#include <stdlib.h>

#include "base/clock.h"
#include "commerce/commerce.h"
#include "daemon.h"
#include "experiments/experiments.h"
#include "handlers_offers.h"
#include "log.h"
#include "model_clv.h"
#include "offers/offers.h"

#define OFFERS_KEY_GRACE_S (7 * 86400)

struct offers_wire_s {
  offers_catalog_t *catalog; /* loop thread only */
  offers_keyring_t keys;     /* read-only after start */
  uint64_t draws;            /* bandit seed counter (loop thread) */
};

/* ---- the catalogue snapshot ---- */

static int catalog_rebuild(daemon_t *d, perr_info_t *e) {
  store_txn_t *t;
  offers_catalog_t *c = NULL;
  if (store_txn_begin(d->store, 0, &t))
    return perr_set(e, PERR_UNAVAILABLE, NULL, "cannot read the store");
  int rc = offers_catalog_build(t, &c, e);
  store_abort(t);
  if (rc) return rc;
  offers_catalog_free(d->offers->catalog);
  d->offers->catalog = c;
  return 0;
}

int offers_wire_init(daemon_t *d, perr_info_t *e) {
  d->offers = calloc(1, sizeof *d->offers);
  if (!d->offers) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = offers_keys_open(d->cfg.data_dir, true, OFFERS_KEY_GRACE_S, &d->offers->keys, e);
  return rc ? rc : catalog_rebuild(d, e);
}

void offers_wire_destroy(daemon_t *d) {
  if (!d->offers) return;
  offers_catalog_free(d->offers->catalog);
  memset(&d->offers->keys, 0, sizeof d->offers->keys);
  free(d->offers);
  d->offers = NULL;
}

void offers_wire_after_write(daemon_t *d, wjob_t *job) {
  if (job->rc || !d->offers) return;
  if (job->method != METHOD_offers_set && job->method != METHOD_offers_archive) return;
  offers_wire_reload(d);
}

void offers_wire_reload(daemon_t *d) {
  perr_info_t e;
  if (d->offers && catalog_rebuild(d, &e)) log_warn("offers: catalogue not rebuilt: %s", e.message);
}

/* ---- reading the params map ---- */

typedef struct jp_s {
  json_t *root;
  perr_info_t *e;
} jp_t;

static int params_json(const void *p, const char *const *allowed, json_t **out, perr_info_t *e) {
  const raw_params_t *r = p;
  json_t *j = r->obj.type == MSGPACK_OBJECT_NIL ? json_object() : mp_to_json(&r->obj, "", e);
  if (!j) return e->code ? e->code : perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  if (allowed) {
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
      int ok = 0;
      for (const char *const *a = allowed; *a; a++) ok |= !strcmp(*a, k);
      if (!ok) { /* the error copies the key: set it before the map (and k) is freed */
        perr_set(e, PERR_INVALID_PARAMS, k, "unknown field");
        json_decref(j);
        return e->code;
      }
    }
  }
  *out = j;
  return 0;
}

static int jstr(const json_t *o, const char *field, const char *k, int req, size_t max,
                const char **out, perr_info_t *e) {
  const json_t *v = json_object_get(o, k);
  *out = NULL;
  if (!v || json_is_null(v))
    return req ? perr_set(e, PERR_INVALID_PARAMS, field, "required") : 0;
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
    return perr_set(e, PERR_INVALID_PARAMS, field, "must be a string of 1 to %zu bytes", max);
  *out = json_string_value(v);
  return 0;
}

static int jint(const json_t *o, const char *field, const char *k, int req, int64_t lo,
                int64_t hi, int64_t *out, perr_info_t *e) {
  const json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return req ? perr_set(e, PERR_INVALID_PARAMS, field, "required") : 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return perr_set(e, PERR_INVALID_PARAMS, field, "must be an integer in %lld..%lld",
                    (long long)lo, (long long)hi);
  *out = json_integer_value(v);
  return 0;
}

static int jdbl(const json_t *o, const char *field, const char *k, double lo, double hi,
                double *out, perr_info_t *e) {
  const json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
    return perr_set(e, PERR_INVALID_PARAMS, field, "must be a number in %g..%g", lo, hi);
  *out = json_number_value(v);
  return 0;
}

static int answer(exec_ctx_t *x, json_t *j, void *r, perr_info_t *e) {
  if (!j) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = json_blob_make(x->arena, j, r, e);
  json_decref(j);
  return rc;
}

/* A cart: {currency, value?, items?: [{product, category?, quantity?, price}]}; value
 * defaults to the items' sum. Items go into the arena; strings point into j. */
static int read_cart(exec_ctx_t *x, const json_t *j, int req, offers_cart_t *c, perr_info_t *e) {
  static const char *const keys[] = {"currency", "value", "items", NULL};
  memset(c, 0, sizeof *c);
  if (!j || json_is_null(j)) return req ? perr_set(e, PERR_INVALID_PARAMS, "cart", "required") : 0;
  if (!json_is_object(j)) return perr_set(e, PERR_INVALID_PARAMS, "cart", "must be a map");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)j, k, v) {
    int ok = 0;
    for (const char *const *a = keys; *a; a++) ok |= !strcmp(*a, k);
    if (!ok) return perr_set(e, PERR_INVALID_PARAMS, "cart", "unknown field %s", k);
  }
  if (jstr(j, "cart.currency", "currency", 1, 3, &c->currency, e)) return e->code;
  const json_t *items = json_object_get(j, "items");
  int64_t sum = 0;
  if (items && !json_is_null(items)) {
    if (!json_is_array(items) || json_array_size(items) > 1000)
      return perr_set(e, PERR_INVALID_PARAMS, "cart.items", "must be an array of at most 1000");
    size_t n = json_array_size(items);
    offers_cart_item_t *it = arena_alloc(x->arena, (n ? n : 1) * sizeof *it);
    if (!it) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
      const json_t *o = json_array_get(items, i);
      char f[64];
      if (!json_is_object(o)) return perr_set(e, PERR_INVALID_PARAMS, "cart.items", "items are maps");
      snprintf(f, sizeof f, "cart.items[%zu].product", i);
      if (jstr(o, f, "product", 1, 128, &it[i].product, e)) return e->code;
      snprintf(f, sizeof f, "cart.items[%zu].category", i);
      if (jstr(o, f, "category", 0, 128, &it[i].category, e)) return e->code;
      it[i].quantity = 1;
      snprintf(f, sizeof f, "cart.items[%zu].quantity", i);
      if (jint(o, f, "quantity", 0, 1, 1000000, &it[i].quantity, e)) return e->code;
      snprintf(f, sizeof f, "cart.items[%zu].price", i);
      if (jint(o, f, "price", 1, 0, INT64_C(1) << 40, &it[i].price, e)) return e->code;
      sum += it[i].quantity * it[i].price;
    }
    c->items = it;
    c->nitems = n;
  }
  c->value = sum;
  return jint(j, "cart.value", "value", 0, 0, INT64_C(1) << 50, &c->value, e);
}

/* ---- catalogue (admin) ---- */

/* The stored offer named by the params' only field (free it with offers_clear); *txn (may
 * be NULL) gets the transaction it was read in. */
static int read_offer(exec_ctx_t *x, const void *p, const char *field, offer_t *o,
                      store_txn_t **txn, perr_info_t *e) {
  const char *const keys[] = {field, NULL};
  json_t *j;
  const char *id;
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  store_txn_t *t = exec_txn(x, e);
  rc = !t ? e->code : jstr(j, field, field, 1, OFFERS_ID_MAX, &id, e);
  if (!rc) rc = offers_get(t, id, o, e);
  json_decref(j);
  if (!rc && txn) *txn = t;
  return rc;
}

int handle_offers_set(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  json_t *def;
  int rc = params_json(p, NULL, &def, e);
  if (rc) return rc;
  rc = offers_set(x->txn, def, x->now, e);
  json_t *out = rc ? NULL
                   : json_pack("{sOsI}", "id", json_object_get(def, "id"), "updated_at",
                               (json_int_t)x->now);
  json_decref(def);
  return rc ? rc : answer(x, out, r, e);
}

int handle_offers_get(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  offer_t o;
  int rc = read_offer(x, p, "id", &o, NULL, e);
  if (rc) return rc;
  json_t *out = json_pack("{sOsbsI}", "offer", o.def, "archived", o.archived, "updated_at",
                          (json_int_t)o.updated_at);
  offers_clear(&o);
  return answer(x, out, r, e);
}

int handle_offers_list(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"after", "limit", "include_archived", NULL};
  json_t *j, *list = NULL;
  const char *after;
  int64_t limit = 100;
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  const json_t *inc = json_object_get(j, "include_archived");
  store_txn_t *t = exec_txn(x, e);
  rc = !t ? e->code : jstr(j, "after", "after", 0, OFFERS_ID_MAX, &after, e);
  if (!rc) rc = jint(j, "limit", "limit", 0, 1, 1000, &limit, e);
  if (!rc && inc && !json_is_boolean(inc))
    rc = perr_set(e, PERR_INVALID_PARAMS, "include_archived", "must be a boolean");
  if (!rc) rc = offers_list(t, after, (size_t)limit, json_is_true(inc), &list, e);
  json_decref(j);
  return rc ? rc : answer(x, json_pack("{so}", "offers", list), r, e);
}

int handle_offers_archive(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"id", "archived", NULL};
  json_t *j;
  const char *id;
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  const json_t *arch = json_object_get(j, "archived");
  rc = jstr(j, "id", "id", 1, OFFERS_ID_MAX, &id, e);
  if (!rc && arch && !json_is_boolean(arch))
    rc = perr_set(e, PERR_INVALID_PARAMS, "archived", "must be a boolean");
  bool archived = !arch || json_is_true(arch);
  if (!rc) rc = offers_archive(x->txn, id, archived, x->now, e);
  json_t *out = rc ? NULL : json_pack("{sssb}", "id", id, "archived", archived);
  json_decref(j);
  return rc ? rc : answer(x, out, r, e);
}

/* ---- experiments.assign ---- */

int handle_experiments_assign(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"key", "id", "variations", "weights", "coverage", "seed",
                                     "hash_version", "namespace", "filters", NULL};
  json_t *j;
  const char *key, *id, *seed;
  int64_t variations = 0, hv = 1;
  double weights[EXPERIMENT_MAX_VARIATIONS], coverage = 1;
  experiment_namespace_t ns;
  experiment_filter_t filters[8];
  experiment_range_t franges[8][EXPERIMENT_MAX_VARIATIONS];
  experiment_t xp;
  int nweights = 0, nfilters = 0;
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  experiment_defaults(&xp);
  const json_t *w = json_object_get(j, "weights");
  if ((rc = jstr(j, "key", "key", 1, 256, &key, e)) ||
      (rc = jstr(j, "id", "id", 1, 1024, &id, e)) ||
      (rc = jstr(j, "seed", "seed", 0, 256, &seed, e)) ||
      (rc = jint(j, "hash_version", "hash_version", 0, 0, 100, &hv, e)) ||
      (rc = jdbl(j, "coverage", "coverage", 0, 1, &coverage, e)))
    goto done;
  if (w && !json_is_null(w)) {
    if (!json_is_array(w) || json_array_size(w) > EXPERIMENT_MAX_VARIATIONS) {
      rc = perr_set(e, PERR_INVALID_PARAMS, "weights", "must be an array of at most %d numbers",
                    EXPERIMENT_MAX_VARIATIONS);
      goto done;
    }
    for (size_t i = 0; i < json_array_size(w); i++) {
      const json_t *v = json_array_get(w, i);
      if (!json_is_number(v)) {
        rc = perr_set(e, PERR_INVALID_PARAMS, "weights", "must be numbers");
        goto done;
      }
      weights[nweights++] = json_number_value(v);
    }
  }
  variations = nweights ? nweights : 2;
  if ((rc = jint(j, "variations", "variations", 0, 1, EXPERIMENT_MAX_VARIATIONS, &variations, e)))
    goto done;
  const json_t *nsj = json_object_get(j, "namespace");
  if (nsj && !json_is_null(nsj)) { /* GrowthBook's [id, start, end] */
    if (!json_is_array(nsj) || json_array_size(nsj) != 3 ||
        !json_is_string(json_array_get(nsj, 0)) || !json_is_number(json_array_get(nsj, 1)) ||
        !json_is_number(json_array_get(nsj, 2))) {
      rc = perr_set(e, PERR_INVALID_PARAMS, "namespace", "must be [id, start, end]");
      goto done;
    }
    ns = (experiment_namespace_t){json_string_value(json_array_get(nsj, 0)),
                                  json_number_value(json_array_get(nsj, 1)),
                                  json_number_value(json_array_get(nsj, 2))};
    xp.ns = &ns;
  }
  const json_t *fj = json_object_get(j, "filters");
  if (fj && !json_is_null(fj)) { /* [{seed, ranges: [[a,b]...], hash_version?}] on the id */
    if (!json_is_array(fj) || json_array_size(fj) > 8) {
      rc = perr_set(e, PERR_INVALID_PARAMS, "filters", "must be an array of at most 8 maps");
      goto done;
    }
    for (size_t i = 0; i < json_array_size(fj); i++) {
      const json_t *f = json_array_get(fj, i), *rg = json_object_get(f, "ranges");
      const char *fseed = NULL;
      int64_t fhv = 0;
      char fld[48];
      snprintf(fld, sizeof fld, "filters[%zu].seed", i);
      if (!json_is_object(f) || (rc = jstr(f, fld, "seed", 1, 256, &fseed, e))) {
        if (!rc) rc = perr_set(e, PERR_INVALID_PARAMS, "filters", "must be maps");
        goto done;
      }
      snprintf(fld, sizeof fld, "filters[%zu].hash_version", i);
      if ((rc = jint(f, fld, "hash_version", 0, 0, 100, &fhv, e))) goto done;
      snprintf(fld, sizeof fld, "filters[%zu].ranges", i);
      if (!json_is_array(rg) || json_array_size(rg) > EXPERIMENT_MAX_VARIATIONS) {
        rc = perr_set(e, PERR_INVALID_PARAMS, fld, "must be an array of [start, end]");
        goto done;
      }
      for (size_t k = 0; k < json_array_size(rg); k++) {
        const json_t *pr = json_array_get(rg, k);
        if (!json_is_array(pr) || json_array_size(pr) != 2 ||
            !json_is_number(json_array_get(pr, 0)) || !json_is_number(json_array_get(pr, 1))) {
          rc = perr_set(e, PERR_INVALID_PARAMS, fld, "must be an array of [start, end]");
          goto done;
        }
        franges[i][k] = (experiment_range_t){json_number_value(json_array_get(pr, 0)),
                                             json_number_value(json_array_get(pr, 1))};
      }
      filters[nfilters++] = (experiment_filter_t){fseed, id, (int)fhv, franges[i],
                                                  (int)json_array_size(rg)};
    }
    xp.filters = filters;
    xp.nfilters = nfilters;
  }
  xp.key = key;
  xp.seed = seed;
  xp.hash_version = (int)hv;
  xp.variations = (int)variations;
  xp.weights = nweights ? weights : NULL;
  xp.nweights = nweights;
  xp.coverage = coverage;
  experiment_assignment_t a;
  experiment_assign(&xp, id, NULL, NULL, &a);
  json_t *out = json_pack("{sisbso}", "variation", a.variation, "in_experiment", a.in_experiment,
                          "hash", a.hash >= 0 ? json_real(a.hash) : json_null());
  json_decref(j);
  return answer(x, out, r, e);
done:
  json_decref(j);
  return rc;
}

/* ---- offers.decide ---- */

/* The profile attributes the rules see (PROTOCOL.md offers.decide): the stored profile's
 * order history, then the served CLV model's scores. */
static void profile_attributes(exec_ctx_t *x, store_txn_t *t, const char *customer,
                               json_t *attrs) {
  const clv_snap_t *s = clv_model_current(x->d);
  cust_analytics_t an;
  customer_profile_t prof;
  perr_info_t ignore;
  json_object_set_new(attrs, "id", json_string(customer));
  if (core_customer_get(t, (pstr_t){customer, strlen(customer)}, x->arena, &prof, &ignore) == 0) {
    json_object_set_new(attrs, "order_count", json_integer(prof.order_count));
    json_object_set_new(attrs, "first_order", json_boolean(prof.order_count == 0));
    if (prof.last_order_at > 0 && x->now >= prof.last_order_at)
      json_object_set_new(attrs, "days_since_last_order",
                          json_integer((x->now - prof.last_order_at) / 86400));
  } else {
    json_object_set_new(attrs, "order_count", json_integer(0));
    json_object_set_new(attrs, "first_order", json_true());
  }
  memset(&an, 0, sizeof an);
  clv_snap_analytics(s, s ? clv_snap_find(s, customer, strlen(customer)) : NULL, &an);
  if (!an.scored) return;
  if (an.segment) json_object_set_new(attrs, "segment", json_string(an.segment));
  if (an.has_clv) {
    json_object_set_new(attrs, "p_alive", json_real(an.p_alive));
    json_object_set_new(attrs, "churn_risk", json_real(an.churn_risk));
    if (an.churn_band) json_object_set_new(attrs, "churn_band", json_string(an.churn_band));
  }
  if (an.has_value) json_object_set_new(attrs, "predicted_clv", json_integer(an.predicted_clv));
}

int handle_offers_decide(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"customer", "cart", "attributes", "max_offers", NULL};
  json_t *j, *attrs = NULL, *list = NULL;
  const char *customer;
  int64_t max_offers = 0;
  offers_cart_t cart;
  offers_decision_t dec;
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  const json_t *shop = json_object_get(j, "attributes");
  store_txn_t *t = exec_txn(x, e);
  if ((rc = !t ? e->code : jstr(j, "customer", "customer", 1, OFFERS_ID_MAX, &customer, e)) ||
      (rc = jint(j, "max_offers", "max_offers", 0, 1, OFFERS_DECIDE_MAX, &max_offers, e)) ||
      (rc = read_cart(x, json_object_get(j, "cart"), 1, &cart, e)))
    goto done;
  if (shop && !json_is_null(shop) && !json_is_object(shop)) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "attributes", "must be a map");
    goto done;
  }
  attrs = json_object();
  if (shop && json_is_object(shop)) json_object_update(attrs, (json_t *)shop);
  profile_attributes(x, t, customer, attrs); /* Patron's own attributes win */
  offers_cart_attributes(attrs, &cart);
  offers_decide_in_t in = {.customer = customer, .attrs = attrs, .cart = &cart, .now = x->now,
                           .seed = clock_mono_ns() ^ ++x->d->offers->draws,
                           .max_offers = (int)max_offers, .keys = &x->d->offers->keys};
  static const offers_catalog_t empty = {0, NULL};
  const offers_catalog_t *c = x->d->offers->catalog ? x->d->offers->catalog : &empty;
  if ((rc = offers_decide(c, t, &in, &dec, e))) goto done;
  list = json_array();
  for (size_t i = 0; i < dec.n; i++) {
    const offers_decided_t *it = &dec.items[i];
    json_array_append_new(
        list, json_pack("{sssisosbsIsIsssfsfsssIssss}", "offer_id", it->offer_id, "arm", it->arm,
                        "variant", it->variant ? json_string(it->variant) : json_null(),
                        "held_out", it->held_out, "value", (json_int_t)it->value, "discount",
                        (json_int_t)it->discount, "currency", it->currency, "expected_value",
                        it->expected_value, "uplift", it->uplift, "impression_id",
                        it->impression_id, "expires", (json_int_t)it->expires, "reason",
                        it->reason, "token", it->token));
  }
  json_decref(attrs);
  json_decref(j);
  return answer(x, json_pack("{sbso}", "global_holdout", dec.global_holdout, "offers", list), r, e);
done:
  json_decref(attrs);
  json_decref(j);
  return rc;
}

/* ---- offers.redeem / offers.event (writer) ---- */

int handle_offers_redeem(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"token", "customer", "cart", "cart_ref",
                                     "idempotency_key", NULL};
  json_t *j;
  offers_cart_t cart;
  offers_redeem_in_t in = {.now = x->now, .cart = &cart};
  offers_redeem_out_t out;
  offers_refusal_t why = OFFERS_OK;
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  if (!(rc = jstr(j, "token", "token", 1, OFFERS_TOKEN_MAX, &in.token, e)) &&
      !(rc = jstr(j, "customer", "customer", 1, OFFERS_ID_MAX, &in.customer, e)) &&
      !(rc = jstr(j, "idempotency_key", "idempotency_key", 1, 128, &in.idempotency_key, e)) &&
      !(rc = jstr(j, "cart_ref", "cart_ref", 0, 128, &in.cart_ref, e)) &&
      !(rc = read_cart(x, json_object_get(j, "cart"), 1, &cart, e)))
    rc = offers_redeem(x->txn, &x->d->offers->keys, &in, &out, &why, e);
  json_decref(j);
  if (rc) return rc;
  return answer(x,
                json_pack("{sbsssisIsssIsI}", "replay", out.replay, "offer_id", out.offer_id, "arm",
                          out.arm, "discount", (json_int_t)out.discount, "currency", out.currency,
                          "redemptions_left", (json_int_t)out.redemptions_left, "money_left",
                          (json_int_t)out.money_left),
                r, e);
}

int handle_offers_event(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"type", "idempotency_key", "offer_id", "customer", "arm",
                                     "ts", "revenue", NULL};
  static const char *const types[] = {"impression", "click", "order"};
  json_t *j;
  const char *type;
  int64_t arm = 0;
  bool replay = false;
  offers_event_t ev = {.ts = x->now};
  int rc = params_json(p, keys, &j, e);
  if (rc) return rc;
  if (!(rc = jstr(j, "type", "type", 1, 16, &type, e)) &&
      !(rc = jstr(j, "idempotency_key", "idempotency_key", 1, 128, &ev.idempotency_key, e)) &&
      !(rc = jstr(j, "offer_id", "offer_id", 1, OFFERS_ID_MAX, &ev.offer_id, e)) &&
      !(rc = jstr(j, "customer", "customer", 1, OFFERS_ID_MAX, &ev.customer, e)) &&
      !(rc = jint(j, "arm", "arm", 0, 0, OFFERS_MAX_VARIANTS, &arm, e)) &&
      !(rc = jint(j, "ts", "ts", 0, 1, INT64_C(32503680000), &ev.ts, e)) &&
      !(rc = jint(j, "revenue", "revenue", 0, 0, INT64_C(1) << 50, &ev.revenue, e))) {
    int k = 0;
    while (k < 3 && strcmp(types[k], type)) k++;
    if (k == 3) rc = perr_set(e, PERR_INVALID_PARAMS, "type", "must be impression, click or order");
    ev.type = (offers_event_type_t)k;
    ev.arm = (int)arm;
    if (!rc) rc = offers_event(x->txn, &ev, &replay, e);
  }
  json_decref(j);
  return rc ? rc : answer(x, json_pack("{sb}", "replay", replay), r, e);
}

/* ---- experiments.report (worker) ---- */

static json_t *effect_json(const stats_effect_t *f) {
  if (!f->valid) return json_null();
  return json_pack("{sfsfsfsfsf}", "estimate", f->estimate, "se", f->se, "lower", f->lower,
                   "upper", f->upper, "p_value", f->p_value);
}

int handle_experiments_report(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  offer_t o;
  offers_report_t rep;
  store_txn_t *t;
  int rc = read_offer(x, p, "offer_id", &o, &t, e);
  if (rc) return rc;
  rc = offers_report(t, &o, &rep, e);
  if (rc) {
    offers_clear(&o);
    return rc;
  }
  json_t *arms = json_array();
  for (int i = 0; i < rep.narms; i++) {
    const stats_arm_t *a = &rep.arms[i];
    json_t *arm = json_pack("{sssIsIsIsIsI}", "name", rep.arm_names[i], "exposures",
                            (json_int_t)a->exposures, "conversions", (json_int_t)a->conversions,
                            "revenue", (json_int_t)a->revenue, "discount_cost",
                            (json_int_t)a->discount_cost, "clicks", (json_int_t)rep.clicks[i]);
    if (rep.has_compare[i]) {
      const stats_comparison_t *c = &rep.compare[i];
      json_object_set_new(
          arm, "vs_holdout",
          json_pack("{sososfsososfsIsIsIsIso}", "conversion_abs", effect_json(&c->conv_abs),
                    "conversion_rel", effect_json(&c->conv_rel), "conversion_chance_to_beat",
                    c->conv_chance_to_beat, "rpe_abs", effect_json(&c->rpe_abs), "rpe_rel",
                    effect_json(&c->rpe_rel), "rpe_chance_to_beat", c->rpe_chance_to_beat,
                    "incremental_revenue", (json_int_t)c->incremental_revenue,
                    "incremental_lower", (json_int_t)c->incremental_lower, "incremental_upper",
                    (json_int_t)c->incremental_upper, "net_incremental",
                    (json_int_t)c->net_incremental, "roi",
                    c->has_roi ? json_real(c->roi) : json_null()));
    }
    json_array_append_new(arms, arm);
  }
  json_t *out = json_pack("{sssosIsI}", "offer_id", o.id, "arms", arms, "redemptions",
                          (json_int_t)rep.redemptions, "money_spent", (json_int_t)rep.money_spent);
  if (out && rep.has_srm)
    json_object_set_new(out, "srm", json_pack("{sfsfsb}", "chi2", rep.srm_chi2, "p_value",
                                              rep.srm_p, "mismatch", rep.srm_flag));
  offers_clear(&o);
  return answer(x, out, r, e);
}
