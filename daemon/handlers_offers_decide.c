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

/* The mark of an impression id: its bytes 8 at a time (the last step overlapping), each
 * word mixed in with a multiply and a rotation, then the length and a final avalanche
 * (distinct ids collide with probability ~2^-64; a collision only skips queueing an
 * exposure, which the next decision in another hour queues). Its domain differs from the
 * global marks' (fnv64 over "g", ...) by the seed. */
static uint64_t impression_mark(const char *id) {
  size_t n = strlen(id);
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
  if (n < 8) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)id[i]) * 0x100000001b3ull;
  } else {
    for (size_t i = 0; i + 8 < n; i += 8) {
      memcpy(&w, id + i, 8);
      h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
      h = h << 31 | h >> 33;
    }
    memcpy(&w, id + n - 8, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
  }
  h ^= h >> 31;
  h *= 0x94d049bb133111ebull;
  return h ^ h >> 29;
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
  uint64_t marks[OFFERS_DECIDE_MAX + 1];
  bool fresh[OFFERS_DECIDE_MAX];
  int nmarks = 0;
  for (size_t i = 0; i < dec->n; i++) { /* what was queued already costs a hash */
    uint64_t h = impression_mark(dec->items[i].impression_id);
    fresh[i] = !exposed_before(w, h);
    if (fresh[i]) marks[nmarks++] = h;
  }
  bool global = false;
  if (dec->global_split) {
    char hour[24];
    snprintf(hour, sizeof hour, "%lld", (long long)(now / 3600));
    uint64_t h = fnv64(fnv64(fnv64(fnv64(0xcbf29ce484222325ull, "g"), customer),
                             cart->currency), hour);
    if (!exposed_before(w, h)) marks[nmarks++] = h, global = true;
  }
  if (!nmarks) return;
  json_t *imps = json_array(), *p = NULL;
  for (size_t i = 0; imps && i < dec->n; i++) {
    const offers_decided_t *it = &dec->items[i];
    if (fresh[i])
      json_array_append_new(imps, json_pack("{sssiss}", "offer_id", it->offer_id, "arm", it->arm,
                                            "impression_id", it->impression_id));
  }
  p = imps ? json_pack("{sssIsssO}", "customer_id", customer, "ts", (json_int_t)now, "currency",
                       cart->currency, "impressions", imps)
           : NULL;
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

/* A parsed offers.decide request; the shop's attributes as JSON (general path) or as the
 * msgpack map (fast path, converted only where a rule reads them). */
typedef struct decide_req_s {
  const char *customer;
  int64_t max_offers;
  offers_cart_t cart;
  const json_t *shop_json;
  const msgpack_object *shop_mp;
} decide_req_t;

/* The profile groups the attributes read (PROTOCOL.md offers.decide): the stored profile's
 * order history, the loyalty tier and points, the served CLV model's scores. */
typedef struct profile_src_s {
  exec_ctx_t *x;
  store_txn_t *t;
  pstr_t id; /* the customer (its length taken once) */
  loy_summary_t loy;
} profile_src_t;

static void load_profile(void *ctx, unsigned group, offers_profile_t *p) {
  profile_src_t *ps = ctx;
  exec_ctx_t *x = ps->x;
  perr_info_t ignore;
  pstr_t id = ps->id;
  if (group == OFFERS_GROUP_ORDERS) {
    p->customer_found =
        core_customer_order_counts(ps->t, id, &p->order_count, &p->last_order_at) == 0;
  } else if (group == OFFERS_GROUP_LOYALTY) {
    struct offers_wire_s *w = x->d->offers;
    if (!w->loyalty) w->loyalty = loyalty_program_memo_new(); /* NULL: none */
    p->loyalty = loyalty_summary(ps->t, w->loyalty, id, x->now, &ps->loy, &ignore) == 0 &&
                 ps->loy.program;
    p->has_tier = p->loyalty && ps->loy.has_tier;
    p->tier = ps->loy.tier;
    p->points = ps->loy.balance;
  } else if (group == OFFERS_GROUP_CLV) {
    const clv_snap_t *s = clv_model_current(x->d);
    clv_scores_t an; /* what the rules read of clv_snap_analytics's answer */
    clv_snap_scores(s, s ? clv_snap_find(s, id.p, id.n) : NULL, &an);
    p->scored = an.scored;
    p->segment = an.segment;
    p->has_clv = an.has_clv;
    p->p_alive = an.p_alive;
    p->churn_risk = an.churn_risk;
    p->churn_band = an.churn_band;
    p->has_value = an.has_value;
    p->predicted_clv = an.predicted_clv;
  }
}

/* The shop's attributes that some rule reads (the rest are never looked at). */
static int shop_attributes(exec_ctx_t *x, const offers_catalog_t *c, const decide_req_t *q,
                           offers_attrs_t *a, perr_info_t *e) {
  if (q->shop_json) {
    const char *k;
    json_t *v;
    int slot;
    json_object_foreach((json_t *)q->shop_json, k, v)
      if ((slot = offers_catalog_slot(c, k)) >= 0)
        offers_attrs_set_shop(a, (size_t)slot, json_incref(v));
    return 0;
  }
  for (uint32_t i = 0; q->shop_mp && i < q->shop_mp->via.map.size; i++) {
    const msgpack_object_kv *kv = &q->shop_mp->via.map.ptr[i];
    char key[200]; /* as mp_to_json names a key: at most 199 bytes, up to a NUL */
    size_t kn = kv->key.via.str.size < sizeof key - 1 ? kv->key.via.str.size : sizeof key - 1;
    memcpy(key, kv->key.via.str.ptr, kn);
    key[kn] = 0;
    int slot = offers_catalog_slot(c, key);
    if (slot < 0) continue;
    condition_value_t tv;
    if (mp_scalar_value(x->arena, &kv->val, &tv) &&
        offers_attrs_set_shop_typed(a, (size_t)slot, &tv))
      continue; /* its JSON is made only if something reads it as JSON */
    json_t *v = mp_to_json(&kv->val, "attributes", e);
    if (!v) return e->code ? e->code : perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    offers_attrs_set_shop(a, (size_t)slot, v);
  }
  return 0;
}

/* The answer, packed straight into the job's arena (the same bytes the JSON tree gave). */
static int pack_decision(exec_ctx_t *x, const offers_decision_t *dec, void *r, perr_info_t *e) {
  char *p = arena_alloc(x->arena, offers_decision_packed_max(dec));
  if (!p) return perr_set(e, PERR_INTERNAL, NULL, "out of memory packing a result");
  *(json_blob_t *)r = (json_blob_t){p, offers_decision_pack(dec, p)};
  return 0;
}

static int decide_run(exec_ctx_t *x, store_txn_t *t, const decide_req_t *q, void *r,
                      perr_info_t *e) {
  static const offers_catalog_t empty = {0};
  struct offers_wire_s *w = x->d->offers;
  const offers_catalog_t *c = w->catalog ? w->catalog : &empty;
  offers_decision_t dec;
  profile_src_t ps = {.x = x, .t = t, .id = {q->customer, strlen(q->customer)}};
  offers_attrs_t attrs;
  int rc = offers_attrs_init(&attrs, c, q->customer, &q->cart, x->now, load_profile, &ps);
  if (rc) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto done;
  }
  if (!w->attr_pool) w->attr_pool = offers_attr_pool_new(); /* NULL: fresh values */
  offers_attrs_use_pool(&attrs, w->attr_pool);
  if ((rc = shop_attributes(x, c, q, &attrs, e))) goto done;
  if (!w->signer) w->signer = offers_signer_new(); /* NULL: each token fetches its own */
  if (!w->counters) w->counters = offers_counter_memo_new(); /* NULL: read the store */
  offers_decide_in_t in = {.customer = q->customer, .lazy = &attrs, .cart = &q->cart,
                           .now = x->now, .global_holdout = w->global_holdout,
                           .seed = clock_mono_ns() ^ ++w->draws,
                           .max_offers = (int)q->max_offers, .keys = offers_wire_keys(x->d),
                           .signer = w->signer, .counters = w->counters};
  if ((rc = offers_decide(c, t, &in, &dec, e))) goto done;
  offers_expose_queue(x->d, q->customer, &q->cart, x->now, &dec);
  rc = pack_decision(x, &dec, r, e);
done:
  offers_attrs_clear(&attrs);
  return rc;
}

int handle_offers_decide(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"customer_id", "cart", "attributes", "max_offers", NULL};
  json_t *j;
  decide_req_t q;
  store_txn_t *t;
  const offers_decide_params_t *dp = p;
  offers_decide_req_t fast;
  /* the common shape: read from the bytes already (the raw column), or from the map */
  if (dp->fast || offers_decide_read(x->arena, &dp->raw.obj, &fast)) {
    const offers_decide_req_t *f = dp->fast ? &dp->req : &fast;
    q = (decide_req_t){.customer = f->customer, .max_offers = f->max_offers, .cart = f->cart,
                       .shop_mp = f->shop};
    return (t = exec_txn(x, e)) ? decide_run(x, t, &q, r, e) : e->code;
  }
  memset(&q, 0, sizeof q);
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  const json_t *shop = json_object_get(j, "attributes");
  t = exec_txn(x, e);
  if ((rc = !t ? e->code
               : offers_jstr(j, "customer_id", "customer_id", 1, OFFERS_ID_MAX, &q.customer, e)) ||
      (rc = offers_jint(j, "max_offers", "max_offers", 0, 1, OFFERS_DECIDE_MAX, &q.max_offers,
                        e)) ||
      (rc = offers_read_cart(x, json_object_get(j, "cart"), 1, &q.cart, e)))
    goto done;
  if (shop && !json_is_null(shop) && !json_is_object(shop)) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "attributes", "must be a map");
    goto done;
  }
  q.shop_json = json_is_object(shop) ? shop : NULL;
  rc = decide_run(x, t, &q, r, e);
done:
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
