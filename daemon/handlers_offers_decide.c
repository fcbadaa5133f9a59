/* handlers_offers_decide.c -- the shop-facing offers methods: offers.decide (loop thread,
 * read-only on the store), the exposures it implies (queued to the writer as an internal
 * offers.expose job), offers.expose itself, offers.redeem and offers.event (writer).
 * Exposures: every decided item (shown or held out) is an impression keyed by its impression
 * id (the same id for the same customer, offer and hour), and with a global holdout every
 * decision fixes the customer's global arm. offers.decide answers without waiting for that
 * write; the loop remembers what it queued (a direct-mapped cache) so a page reloaded within
 * the hour queues nothing, and the writer is idempotent on the impression id anyway.
 * Invariants: decide never writes in its own transaction; a refused request changes nothing. */
#include <string.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "base/clock.h"
#include "commerce/commerce.h"
#include "json_msgpack.h"
#include "loyalty/loyalty.h"
#include "model_clv.h"
#include "offers_wire.h"

/* ---- exposures ---- */

static uint64_t fnv64(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull; /* a separator after each part */
}

/* Whether h was queued already (and mark it when not). 0 never occurs in the cache's use. */
static bool exposed_before(struct offers_wire_s *w, uint64_t h) {
  h |= 1;
  uint64_t *slot = &w->exposed[h % OFFERS_EXPOSED_SLOTS];
  if (*slot == h) return true;
  *slot = h;
  return false;
}

static void expose_forget(struct offers_wire_s *w, uint64_t h) {
  h |= 1;
  uint64_t *slot = &w->exposed[h % OFFERS_EXPOSED_SLOTS];
  if (*slot == h) *slot = 0;
}

void offers_expose_queue(daemon_t *d, const char *customer, const offers_cart_t *cart,
                         int64_t now, const offers_decision_t *dec) {
  struct offers_wire_s *w = d->offers;
  json_t *imps = json_array(), *p = NULL;
  uint64_t marks[OFFERS_DECIDE_MAX + 1];
  int nmarks = 0;
  char hour[24];
  snprintf(hour, sizeof hour, "%lld", (long long)(now / 3600));
  for (size_t i = 0; imps && i < dec->n; i++) {
    const offers_decided_t *it = &dec->items[i];
    uint64_t h = fnv64(fnv64(0xcbf29ce484222325ull, "i"), it->impression_id);
    if (exposed_before(w, h)) continue;
    marks[nmarks++] = h;
    json_array_append_new(imps, json_pack("{sssiss}", "offer_id", it->offer_id, "arm", it->arm,
                                          "impression_id", it->impression_id));
  }
  bool global = false;
  if (dec->global_split) {
    uint64_t h = fnv64(fnv64(fnv64(fnv64(0xcbf29ce484222325ull, "g"), customer),
                             cart->currency), hour);
    if (!exposed_before(w, h)) marks[nmarks++] = h, global = true;
  }
  if (!nmarks) goto done;
  p = json_pack("{sssIsssO}", "customer_id", customer, "ts", (json_int_t)now, "currency",
                cart->currency, "impressions", imps);
  if (p && global)
    json_object_set_new(p, "global", json_string(dec->global_holdout ? "holdout" : "engine"));
  wjob_t *j = p ? job_new(METHOD_offers_expose, 0) : NULL;
  msgpack_object obj;
  if (!j || d->stopping || !d->writer || json_to_msgpack(p, &obj, &j->zone) ||
      (((raw_params_t *)j->params)->obj = obj, jobq_submit(d->writer, j))) {
    if (log_limit_allow(&w->expose_log, LOG_LVL_WARN, uv_now(d->loop)))
      log_warn("offers.decide: exposure not queued (writer busy or stopping); the next "
               "decision retries");
    if (j) job_free(j);
    for (int i = 0; i < nmarks; i++) expose_forget(w, marks[i]);
  }
done:
  json_decref(p);
  json_decref(imps);
}

/* offers.expose (writer): {customer_id, ts, currency, global?: "holdout"|"engine",
 * impressions: [{offer_id, arm, impression_id}]}. An impression is offers.event's, keyed by
 * its impression id (a replay changes nothing); an offer deleted meanwhile, or an id the
 * shop used for another event, is skipped (counted in `skipped`). */
int handle_offers_expose(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"customer_id", "ts", "currency", "global", "impressions",
                                     NULL};
  json_t *j;
  const char *customer, *currency, *global = NULL;
  int64_t ts = x->now, recorded = 0, replays = 0, skipped = 0;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  const json_t *imps = json_object_get(j, "impressions");
  if ((rc = offers_jstr(j, "customer_id", "customer_id", 1, OFFERS_ID_MAX, &customer, e)) ||
      (rc = offers_jstr(j, "currency", "currency", 1, 3, &currency, e)) ||
      (rc = offers_jstr(j, "global", "global", 0, 8, &global, e)) ||
      (rc = offers_jint(j, "ts", "ts", 0, 1, INT64_C(32503680000), &ts, e)))
    goto out;
  if (imps && !json_is_array(imps)) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "impressions", "must be an array");
    goto out;
  }
  if (global && strcmp(global, "holdout") && strcmp(global, "engine")) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "global", "must be holdout or engine");
    goto out;
  }
  if (global && (rc = offers_global_exposure(x->txn, customer, !strcmp(global, "holdout"),
                                             currency, ts, e)))
    goto out;
  for (size_t i = 0; i < json_array_size(imps); i++) {
    const json_t *it = json_array_get(imps, i);
    offers_event_t ev = {.type = OFFERS_EV_IMPRESSION, .customer = customer, .ts = ts};
    int64_t arm = 0;
    bool replay = false;
    perr_info_t ie;
    if (!json_is_object(it) ||
        offers_jstr(it, "impressions", "offer_id", 1, OFFERS_ID_MAX, &ev.offer_id, e) ||
        offers_jstr(it, "impressions", "impression_id", 1, 64, &ev.idempotency_key, e) ||
        offers_jint(it, "impressions", "arm", 1, 0, OFFERS_MAX_VARIANTS, &arm, e)) {
      rc = e->code ? e->code : perr_set(e, PERR_INVALID_PARAMS, "impressions", "must be maps");
      goto out;
    }
    ev.arm = (int)arm;
    int erc = offers_event(x->txn, &ev, &replay, &ie);
    if (erc == PERR_NOT_FOUND || erc == PERR_CONFLICT || erc == PERR_INVALID_PARAMS) skipped++;
    else if (erc) {
      *e = ie;
      rc = erc;
      goto out;
    } else if (replay) replays++;
    else recorded++;
  }
  rc = offers_answer(x, json_pack("{sIsIsIsb}", "recorded", (json_int_t)recorded, "replays",
                                  (json_int_t)replays, "skipped", (json_int_t)skipped, "global",
                                  global != NULL),
                     r, e);
out:
  json_decref(j);
  return rc;
}

/* ---- offers.decide ---- */

/* The profile attributes the rules see (PROTOCOL.md offers.decide): the stored profile's
 * order history, the loyalty tier and points, then the served CLV model's scores. */
static void profile_attributes(exec_ctx_t *x, store_txn_t *t, const char *customer,
                               json_t *attrs) {
  const clv_snap_t *s = clv_model_current(x->d);
  cust_analytics_t an;
  customer_profile_t prof;
  loy_summary_t loy;
  perr_info_t ignore;
  pstr_t id = {customer, strlen(customer)};
  json_object_set_new(attrs, "id", json_string(customer));
  if (core_customer_get(t, id, x->arena, &prof, &ignore) == 0) {
    json_object_set_new(attrs, "order_count", json_integer(prof.order_count));
    json_object_set_new(attrs, "first_order", json_boolean(prof.order_count == 0));
    if (prof.last_order_at > 0 && x->now >= prof.last_order_at)
      json_object_set_new(attrs, "days_since_last_order",
                          json_integer((x->now - prof.last_order_at) / 86400));
  } else {
    json_object_set_new(attrs, "order_count", json_integer(0));
    json_object_set_new(attrs, "first_order", json_true());
  }
  if (loyalty_summary(t, id, x->now, &loy, &ignore) == 0 && loy.program) {
    if (loy.has_tier) json_object_set_new(attrs, "tier", json_string(loy.tier));
    json_object_set_new(attrs, "points", json_integer(loy.balance));
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

static json_t *decided_json(const offers_decided_t *it) {
  return json_pack("{sssisosbsIsIsssfsfsssIssss}", "offer_id", it->offer_id, "arm", it->arm,
                   "variant", it->variant ? json_string(it->variant) : json_null(), "held_out",
                   it->held_out, "value", (json_int_t)it->value, "discount",
                   (json_int_t)it->discount, "currency", it->currency, "expected_value",
                   it->expected_value, "uplift", it->uplift, "impression_id", it->impression_id,
                   "expires", (json_int_t)it->expires, "reason", it->reason, "token", it->token);
}

int handle_offers_decide(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"customer_id", "cart", "attributes", "max_offers", NULL};
  json_t *j, *attrs = NULL, *list = NULL;
  const char *customer;
  int64_t max_offers = 0;
  offers_cart_t cart;
  offers_decision_t dec;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  const json_t *shop = json_object_get(j, "attributes");
  store_txn_t *t = exec_txn(x, e);
  if ((rc = !t ? e->code
               : offers_jstr(j, "customer_id", "customer_id", 1, OFFERS_ID_MAX, &customer, e)) ||
      (rc = offers_jint(j, "max_offers", "max_offers", 0, 1, OFFERS_DECIDE_MAX, &max_offers, e)) ||
      (rc = offers_read_cart(x, json_object_get(j, "cart"), 1, &cart, e)))
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
                           .global_holdout = x->d->offers->global_holdout,
                           .seed = clock_mono_ns() ^ ++x->d->offers->draws,
                           .max_offers = (int)max_offers, .keys = offers_wire_keys(x->d)};
  static const offers_catalog_t empty = {0, NULL};
  const offers_catalog_t *c = x->d->offers->catalog ? x->d->offers->catalog : &empty;
  if ((rc = offers_decide(c, t, &in, &dec, e))) goto done;
  offers_expose_queue(x->d, customer, &cart, x->now, &dec);
  list = json_array();
  for (size_t i = 0; i < dec.n; i++) json_array_append_new(list, decided_json(&dec.items[i]));
  rc = offers_answer(x, json_pack("{sbso}", "global_holdout", dec.global_holdout, "offers", list),
                     r, e);
done:
  json_decref(attrs);
  json_decref(j);
  return rc;
}

/* ---- offers.redeem / offers.event (writer) ---- */

int handle_offers_redeem(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"token", "customer_id", "cart", "cart_ref",
                                     "idempotency_key", NULL};
  json_t *j;
  offers_cart_t cart;
  offers_redeem_in_t in = {.now = x->now, .cart = &cart};
  offers_redeem_out_t out;
  offers_refusal_t why = OFFERS_OK;
  offers_keyring_t ring;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  if (!(rc = offers_jstr(j, "token", "token", 1, OFFERS_TOKEN_MAX, &in.token, e)) &&
      !(rc = offers_jstr(j, "customer_id", "customer_id", 1, OFFERS_ID_MAX, &in.customer, e)) &&
      !(rc = offers_jstr(j, "idempotency_key", "idempotency_key", 1, 128, &in.idempotency_key,
                         e)) &&
      !(rc = offers_jstr(j, "cart_ref", "cart_ref", 0, 128, &in.cart_ref, e)) &&
      !(rc = offers_read_cart(x, json_object_get(j, "cart"), 1, &cart, e)))
    rc = offers_redeem(x->txn, offers_wire_keys_for_write(x, &ring), &in, &out, &why, e);
  OPENSSL_cleanse(&ring, sizeof ring);
  json_decref(j);
  if (rc) return rc;
  return offers_answer(
      x,
      json_pack("{sbsssisIsssIsI}", "replay", out.replay, "offer_id", out.offer_id, "arm",
                out.arm, "discount", (json_int_t)out.discount, "currency", out.currency,
                "redemptions_left", (json_int_t)out.redemptions_left, "money_left",
                (json_int_t)out.money_left),
      r, e);
}

int handle_offers_event(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"type", "idempotency_key", "offer_id", "customer_id", "arm",
                                     "ts", "revenue", NULL};
  static const char *const types[] = {"impression", "click", "order"};
  json_t *j;
  const char *type;
  int64_t arm = 0;
  bool replay = false;
  offers_event_t ev = {.ts = x->now};
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  if (!(rc = offers_jstr(j, "type", "type", 1, 16, &type, e)) &&
      !(rc = offers_jstr(j, "idempotency_key", "idempotency_key", 1, 128, &ev.idempotency_key,
                         e)) &&
      !(rc = offers_jstr(j, "offer_id", "offer_id", 1, OFFERS_ID_MAX, &ev.offer_id, e)) &&
      !(rc = offers_jstr(j, "customer_id", "customer_id", 1, OFFERS_ID_MAX, &ev.customer, e)) &&
      !(rc = offers_jint(j, "arm", "arm", 0, 0, OFFERS_MAX_VARIANTS, &arm, e)) &&
      !(rc = offers_jint(j, "ts", "ts", 0, 1, INT64_C(32503680000), &ev.ts, e)) &&
      !(rc = offers_jint(j, "revenue", "revenue", 0, 0, INT64_C(1) << 50, &ev.revenue, e))) {
    int k = 0;
    while (k < 3 && strcmp(types[k], type)) k++;
    if (k == 3) rc = perr_set(e, PERR_INVALID_PARAMS, "type", "must be impression, click or order");
    ev.type = (offers_event_type_t)k;
    ev.arm = (int)arm;
    if (!rc) rc = offers_event(x->txn, &ev, &replay, e);
  }
  json_decref(j);
  return rc ? rc : offers_answer(x, json_pack("{sb}", "replay", replay), r, e);
}
