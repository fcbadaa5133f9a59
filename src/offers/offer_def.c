/* offer_def.c -- the offer catalogue: parsing and validating a definition (every error names
 * its field), the versioned record in the OFFERS table (canonical JSON with sorted keys), the
 * admin operations set/get/list/archive (the compiled catalogue snapshot: offer_catalog.c).
 * Invariant: a stored definition always parses (offers_set validates before it writes). */
#include <stdlib.h>

#include "offers/condition.h"
#include "offers/offers_internal.h"

#define REC_TAG 'O'
#define REC_VERSION 1

static const char *const KINDS[] = {"percent_off", "amount_off", "free_shipping", "free_item",
                                    "bonus_points"};
static const char *const PERIODS[] = {"lifetime", "day", "week", "month"};

static int bad(perr_info_t *e, const char *field, const char *msg) {
  return perr_set(e, PERR_INVALID_PARAMS, field, "%s", msg);
}

/* Integer member in [lo, hi]; absent -> def. */
static int get_int(const json_t *obj, const char *name, const char *field, int64_t lo,
                   int64_t hi, int64_t def, int64_t *out, perr_info_t *e) {
  const json_t *v = json_object_get(obj, name);
  if (!v || json_is_null(v)) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v)) return bad(e, field, "must be an integer");
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi) return perr_set(e, PERR_INVALID_PARAMS, field,
                                        "must be between %lld and %lld", (long long)lo,
                                        (long long)hi);
  *out = x;
  return 0;
}

static int get_str(const json_t *obj, const char *name, const char *field, bool required,
                   const char **out, perr_info_t *e) {
  const json_t *v = json_object_get(obj, name);
  *out = NULL;
  if (!v || json_is_null(v)) return required ? bad(e, field, "is required") : 0;
  if (!json_is_string(v)) return bad(e, field, "must be a string");
  *out = json_string_value(v);
  return 0;
}

static int get_enum(const json_t *obj, const char *name, const char *const *names, int n,
                    int def, int *out, perr_info_t *e) {
  const char *s;
  int rc = get_str(obj, name, name, false, &s, e);
  if (rc) return rc;
  *out = def;
  if (!s) return 0;
  for (int i = 0; i < n; i++)
    if (!strcmp(s, names[i])) return *out = i, 0;
  return bad(e, name, "unknown value");
}

/* Only the listed members; an unknown one is named with prefix ("budget.").  */
static int only_named(const json_t *obj, const char *const *allowed, const char *prefix,
                      perr_info_t *e) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    int ok = 0;
    for (int i = 0; allowed[i]; i++) ok |= !strcmp(k, allowed[i]);
    if (!ok) {
      char f[sizeof e->field];
      snprintf(f, sizeof f, "%s%s", prefix, k);
      return bad(e, f, "unknown member");
    }
    (void)v;
  }
  return 0;
}

static int get_obj(const json_t *def, const char *name, const json_t **out, perr_info_t *e) {
  *out = json_object_get(def, name);
  if (*out && json_is_null(*out)) *out = NULL;
  if (*out && !json_is_object(*out)) return bad(e, name, "must be an object");
  return 0;
}

static int get_targets(const json_t *def, const char *name, const json_t **out, perr_info_t *e) {
  const json_t *v = json_object_get(def, name);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_array(v) || json_array_size(v) > OFFERS_MAX_TARGETS)
    return bad(e, name, "must be an array of at most 256 ids");
  for (size_t i = 0; i < json_array_size(v); i++) {
    char f[64];
    snprintf(f, sizeof f, "%s[%zu]", name, i);
    const json_t *x = json_array_get(v, i);
    int rc = offer_check_id(json_is_string(x) ? json_string_value(x) : NULL, f, e);
    if (rc) return rc;
  }
  *out = json_array_size(v) ? v : NULL;
  return 0;
}

/* o->targets: the products' and categories' strings in one array (the decision's cart scan
 * compares C strings instead of walking JSON arrays). */
static int target_strings(offer_t *o, perr_info_t *e) {
  o->nproducts = json_array_size(o->products);
  o->ncategories = json_array_size(o->categories);
  if (!o->nproducts && !o->ncategories) return 0;
  o->targets = malloc((o->nproducts + o->ncategories) * sizeof *o->targets);
  if (!o->targets) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  for (size_t i = 0; i < o->nproducts; i++)
    o->targets[i] = json_string_value(json_array_get(o->products, i));
  for (size_t i = 0; i < o->ncategories; i++)
    o->targets[o->nproducts + i] = json_string_value(json_array_get(o->categories, i));
  return 0;
}

static int parse_experiment(const json_t *x, offer_t *o, perr_info_t *e) {
  static const char *const allowed[] = {"holdout", "variants", "mode", "reward", "seed",
                                        "stop_when_losing", NULL};
  static const char *const modes[] = {"ab", "bandit"};
  static const char *const rewards[] = {"conversion", "revenue"};
  o->nvariants = 1;
  o->variants[0] = (offer_variant_t){"default", 1.0, o->value};
  o->seed = o->id;
  o->stop_when_losing = true;
  if (!x) return 0;
  int rc, m;
  if ((rc = only_named(x, allowed, "experiment.", e))) return rc;
  const json_t *swl = json_object_get(x, "stop_when_losing");
  if (swl && !json_is_null(swl)) {
    if (!json_is_boolean(swl)) return bad(e, "experiment.stop_when_losing", "must be a boolean");
    o->stop_when_losing = json_is_true(swl);
  }
  const json_t *h = json_object_get(x, "holdout");
  if (h && !json_is_null(h)) {
    if (!json_is_number(h) || json_number_value(h) < 0 || json_number_value(h) > 0.9)
      return bad(e, "experiment.holdout", "must be a number in [0, 0.9]");
    o->holdout = json_number_value(h);
  }
  if ((rc = get_enum(x, "mode", modes, 2, 0, &m, e))) goto field;
  o->mode = (offer_mode_t)m;
  if ((rc = get_enum(x, "reward", rewards, 2, 0, &o->reward, e))) goto field;
  if ((rc = get_str(x, "seed", "experiment.seed", false, &o->seed, e))) return rc;
  if (!o->seed || !*o->seed) o->seed = o->id;
  if (strlen(o->seed) > OFFERS_ID_MAX) return bad(e, "experiment.seed", "at most 128 bytes");
  const json_t *vs = json_object_get(x, "variants");
  if (!vs || json_is_null(vs)) return 0;
  if (!json_is_array(vs) || json_array_size(vs) < 1 || json_array_size(vs) > OFFERS_MAX_VARIANTS)
    return bad(e, "experiment.variants", "must be an array of 1..8 variants");
  o->nvariants = (int)json_array_size(vs);
  double wsum = 0;
  for (int i = 0; i < o->nvariants; i++) {
    static const char *const vallowed[] = {"id", "weight", "value", NULL};
    const json_t *v = json_array_get(vs, (size_t)i);
    char f[64];
    snprintf(f, sizeof f, "experiment.variants[%d]", i);
    if (!json_is_object(v)) return bad(e, f, "must be an object");
    char pre[80];
    snprintf(pre, sizeof pre, "%s.", f);
    if ((rc = only_named(v, vallowed, pre, e))) return rc;
    offer_variant_t *ov = &o->variants[i];
    snprintf(f, sizeof f, "experiment.variants[%d].id", i);
    if ((rc = get_str(v, "id", f, true, &ov->id, e)) || (rc = offer_check_id(ov->id, f, e)))
      return rc;
    for (int j = 0; j < i; j++)
      if (!strcmp(o->variants[j].id, ov->id)) return bad(e, f, "duplicate variant id");
    const json_t *w = json_object_get(v, "weight");
    ov->weight = 1.0 / o->nvariants;
    snprintf(f, sizeof f, "experiment.variants[%d].weight", i);
    if (w && !json_is_null(w)) {
      if (!json_is_number(w) || json_number_value(w) <= 0 || json_number_value(w) > 1)
        return bad(e, f, "must be a number in (0, 1]");
      ov->weight = json_number_value(w);
    }
    wsum += ov->weight;
    snprintf(f, sizeof f, "experiment.variants[%d].value", i);
    int64_t hi = o->kind == OFFER_PERCENT_OFF ? 100 : INT64_C(1000000000000);
    if ((rc = get_int(v, "value", f, 1, hi, o->value, &ov->value, e))) return rc;
  }
  if (wsum < 0.99 || wsum > 1.01) return bad(e, "experiment.variants", "weights must sum to 1");
  return 0;
field:
  if (e) {
    char f[sizeof e->field];
    snprintf(f, sizeof f, "experiment.%.50s", e->field);
    memcpy(e->field, f, sizeof f);
  }
  return rc;
}

/* with_rule false: the rule is validated by the caller's earlier set, not compiled (readers
 * that only need the numbers: redeem, events, attribution). */
static int parse(const json_t *in, bool with_rule, offer_t *o, perr_info_t *e) {
  static const char *const allowed[] = {
      "id", "kind", "value", "point_value", "currency", "valid_from", "valid_until", "rule",
      "priority", "exclusive_group", "budget", "caps", "min_cart", "products", "categories",
      "stackable", "attribution_window_s", "token_ttl_s", "experiment", "archived",
      "updated_at", NULL};
  static const char *const ballowed[] = {"money", "redemptions", NULL};
  static const char *const callowed[] = {"shown", "redeemed", "period", NULL};
  const int64_t MONEY_MAX = INT64_C(1000000000000000);
  memset(o, 0, sizeof *o);
  o->rule_slot = o->rule_one = -1;
  if (!json_is_object(in)) return bad(e, NULL, "an offer must be an object");
  int rc = only_named(in, allowed, "", e);
  if (rc) return rc;
  json_t *def = json_deep_copy(in);
  if (!def) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  json_object_del(def, "archived");
  json_object_del(def, "updated_at");
  o->def = def;
  const json_t *budget, *caps, *x;
  int kind, period;
  int64_t lo = 1, hi = MONEY_MAX;
  if ((rc = get_str(def, "id", "id", true, &o->id, e)) || (rc = offer_check_id(o->id, "id", e)) ||
      (rc = get_enum(def, "kind", KINDS, 5, -1, &kind, e)))
    goto fail;
  o->id_len = strlen(o->id);
  o->id_head = offer_id_head(o->id, o->id_len);
  if (kind < 0) {
    rc = bad(e, "kind", "is required");
    goto fail;
  }
  o->kind = (offer_kind_t)kind;
  if (o->kind == OFFER_PERCENT_OFF) hi = 100;
  if (o->kind == OFFER_FREE_SHIPPING) lo = 0;
  if ((rc = get_int(def, "value", "value", lo, hi, -1, &o->value, e))) goto fail;
  if (o->value < 0) {
    rc = bad(e, "value", "is required");
    goto fail;
  }
  if ((rc = get_int(def, "point_value", "point_value", 0, 1000000, 1, &o->point_value, e)) ||
      (rc = get_str(def, "currency", "currency", true, &o->currency, e)))
    goto fail;
  if (!core_currency_static(core_pstr(o->currency, strlen(o->currency)))) {
    rc = bad(e, "currency", "unknown currency code");
    goto fail;
  }
  if ((rc = get_int(def, "valid_from", "valid_from", 0, INT64_MAX / 2, 0, &o->valid_from, e)) ||
      (rc = get_int(def, "valid_until", "valid_until", 0, INT64_MAX / 2, 0, &o->valid_until,
                    e)))
    goto fail;
  if (o->valid_until && o->valid_until <= o->valid_from) {
    rc = bad(e, "valid_until", "must be after valid_from");
    goto fail;
  }
  if ((rc = get_int(def, "priority", "priority", -1000000, 1000000, 0, &o->priority, e)) ||
      (rc = get_str(def, "exclusive_group", "exclusive_group", false, &o->exclusive_group, e)))
    goto fail;
  if (o->exclusive_group && (rc = offer_check_id(o->exclusive_group, "exclusive_group", e)))
    goto fail;
  if ((rc = get_obj(def, "budget", &budget, e))) goto fail;
  if (budget && ((rc = only_named(budget, ballowed, "budget.", e)) ||
                 (rc = get_int(budget, "money", "budget.money", 0, MONEY_MAX, 0,
                               &o->budget_money, e)) ||
                 (rc = get_int(budget, "redemptions", "budget.redemptions", 0, MONEY_MAX, 0,
                               &o->budget_redemptions, e))))
    goto fail;
  if ((rc = get_obj(def, "caps", &caps, e))) goto fail;
  if (caps) {
    if ((rc = only_named(caps, callowed, "caps.", e)) ||
        (rc = get_int(caps, "shown", "caps.shown", 0, 1000000000, 0, &o->cap_shown, e)) ||
        (rc = get_int(caps, "redeemed", "caps.redeemed", 0, 1000000000, 0, &o->cap_redeemed,
                      e)))
      goto fail;
    if ((rc = get_enum(caps, "period", PERIODS, 4, 0, &period, e))) {
      snprintf(e->field, sizeof e->field, "caps.period");
      goto fail;
    }
    o->cap_period = (offer_period_t)period;
  }
  if ((rc = get_int(def, "min_cart", "min_cart", 0, MONEY_MAX, 0, &o->min_cart, e)) ||
      (rc = get_targets(def, "products", &o->products, e)) ||
      (rc = get_targets(def, "categories", &o->categories, e)) ||
      (rc = target_strings(o, e)))
    goto fail;
  x = json_object_get(def, "stackable");
  if (x && !json_is_null(x) && !json_is_boolean(x)) {
    rc = bad(e, "stackable", "must be a boolean");
    goto fail;
  }
  o->stackable = x && json_is_true(x);
  if ((rc = get_int(def, "attribution_window_s", "attribution_window_s", 0, 366 * 86400,
                    OFFERS_DEFAULT_WINDOW_S, &o->window_s, e)) ||
      (rc = get_int(def, "token_ttl_s", "token_ttl_s", 60, 31 * 86400,
                    OFFERS_DEFAULT_TOKEN_TTL_S, &o->token_ttl_s, e)))
    goto fail;
  if ((rc = get_obj(def, "experiment", &x, e)) || (rc = parse_experiment(x, o, e))) goto fail;
  snprintf(o->seed_holdout, sizeof o->seed_holdout, "%s/holdout", o->seed);
  snprintf(o->seed_variant, sizeof o->seed_variant, "%s/variant", o->seed);
  o->seed_holdout_len = strlen(o->seed_holdout);
  o->seed_variant_len = strlen(o->seed_variant);
  double hw[2] = {o->holdout, 1 - o->holdout}, vw[OFFERS_MAX_VARIANTS];
  for (int i = 0; i < o->nvariants; i++) vw[i] = o->variants[i].weight;
  experiment_bucket_ranges(2, 1.0, hw, 2, o->holdout_ranges);
  experiment_bucket_ranges(o->nvariants, 1.0, vw, o->nvariants, o->variant_ranges);
  experiment_v1map_build(o->holdout_ranges, 2, &o->holdout_map);
  experiment_v1map_build(o->variant_ranges, o->nvariants, &o->variant_map);
  x = json_object_get(def, "rule");
  if (with_rule && x && !json_is_null(x) &&
      (rc = condition_compile((json_t *)x, &o->rule, e)))
    goto fail;
  return 0;
fail:
  offers_clear(o);
  return rc;
}

int offers_parse(const json_t *in, offer_t *o, perr_info_t *e) { return parse(in, true, o, e); }

void offers_clear(offer_t *o) {
  if (!o) return;
  if (o->rule) condition_free(o->rule);
  if (o->def) json_decref(o->def);
  free(o->rule_attr);
  free(o->targets);
  memset(o, 0, sizeof *o);
}

/* ---- the record --------------------------------------------------------------------- */

static int encode(const offer_t *o, bool archived, int64_t now, rec_buf_t *b) {
  char *text = json_dumps(o->def, JSON_SORT_KEYS | JSON_COMPACT);
  if (!text) return -1;
  rec_buf_init(b);
  rec_put_u8(b, REC_TAG);
  rec_put_u8(b, REC_VERSION);
  rec_put_uv(b, (uint64_t)now);
  rec_put_u8(b, archived ? 1 : 0);
  rec_put_str(b, core_pstr(text, strlen(text)));
  free(text);
  return b->oom ? -1 : 0;
}

static int decode(const void *v, size_t n, bool with_rule, offer_t *out, perr_info_t *e) {
  rec_rd_t rd;
  rec_rd_init(&rd, v, n);
  if (rec_get_u8(&rd) != REC_TAG || rec_get_u8(&rd) != REC_VERSION)
    return perr_set(e, PERR_INTERNAL, NULL, "offer record: unknown version");
  int64_t updated = (int64_t)rec_get_uv(&rd);
  int archived = rec_get_u8(&rd);
  pstr_t text = rec_get_str(&rd);
  if (!rec_rd_done(&rd)) return perr_set(e, PERR_INTERNAL, NULL, "offer record: corrupt");
  json_t *def = json_loadb(text.p, text.n, 0, NULL);
  if (!def) return perr_set(e, PERR_INTERNAL, NULL, "offer record: corrupt JSON");
  int rc = parse(def, with_rule, out, e);
  json_decref(def);
  if (rc) return perr_set(e, PERR_INTERNAL, NULL, "offer record no longer valid: %s",
                          e ? e->message : "");
  out->archived = archived;
  out->updated_at = updated;
  return 0;
}

static int read_offer(store_txn_t *t, const char *id, bool with_rule, offer_t *out,
                      perr_info_t *e) {
  const void *v;
  size_t vn;
  int rc = offer_check_id(id, "id", e);
  if (rc) return rc;
  rc = store_get(t, STORE_T_OFFERS, id, strlen(id), &v, &vn);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, "id", "unknown offer");
  if (rc) return offer_store_err(t, rc, e);
  return decode(v, vn, with_rule, out, e);
}

int offers_get(store_txn_t *t, const char *id, offer_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  return read_offer(t, id, true, out, e);
}

int offer_load(store_txn_t *t, const char *id, offer_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  return read_offer(t, id, false, out, e);
}

static int write_offer(store_txn_t *t, const offer_t *o, bool archived, int64_t now,
                       perr_info_t *e) {
  rec_buf_t b;
  if (encode(o, archived, now, &b)) {
    rec_buf_free(&b);
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  int rc = store_put(t, STORE_T_OFFERS, o->id, strlen(o->id), b.p, b.n);
  rec_buf_free(&b);
  return rc ? offer_store_err(t, rc, e) : 0;
}

int offers_set(store_txn_t *t, const json_t *def, int64_t now, perr_info_t *e) {
  offer_t o, old;
  int rc = offers_parse(def, &o, e);
  if (rc) return rc;
  bool archived = false;
  perr_info_t e2;
  rc = read_offer(t, o.id, false, &old, &e2);
  if (rc == 0) {
    archived = old.archived;
    offers_clear(&old);
  } else if (rc != PERR_NOT_FOUND) {
    if (e) *e = e2;
    offers_clear(&o);
    return rc;
  }
  rc = write_offer(t, &o, archived, now, e);
  offers_clear(&o);
  return rc;
}

int offers_archive(store_txn_t *t, const char *id, bool archived, int64_t now, perr_info_t *e) {
  offer_t o;
  int rc = offer_load(t, id, &o, e);
  if (rc) return rc;
  rc = write_offer(t, &o, archived, now, e);
  offers_clear(&o);
  return rc;
}

int offer_walk(store_txn_t *t, const char *after, bool include_archived,
                int (*fn)(offer_t *o, void *ctx, perr_info_t *e), void *ctx, perr_info_t *e) {
  store_cursor_t *c;
  size_t an = after ? strlen(after) : 0;
  int rc = store_cursor_open(t, STORE_T_OFFERS, after, an, &c);
  if (rc) return offer_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    if (after && kn == an && !memcmp(k, after, an)) continue;
    offer_t o;
    if ((rc = decode(v, vn, true, &o, e))) break;
    if (o.archived && !include_archived) {
      offers_clear(&o);
      continue;
    }
    rc = fn(&o, ctx, e);
    if (rc) break;
  }
  store_cursor_close(c);
  if (rc < 0 && e && !e->code) return offer_store_err(t, rc, e);
  return rc < 0 ? rc : 0;
}

typedef struct list_ctx_s {
  json_t *arr;
  size_t limit;
} list_ctx_t;

static int list_one(offer_t *o, void *ctx, perr_info_t *e) {
  list_ctx_t *l = ctx;
  json_t *d = json_incref(o->def);
  json_object_set_new(d, "archived", json_boolean(o->archived));
  json_object_set_new(d, "updated_at", json_integer(o->updated_at));
  json_array_append(l->arr, d);
  json_decref(d);
  offers_clear(o);
  (void)e;
  return l->limit && json_array_size(l->arr) >= l->limit ? 1 : 0;
}

int offers_list(store_txn_t *t, const char *after, size_t limit, bool include_archived,
                json_t **out, perr_info_t *e) {
  list_ctx_t l = {json_array(), limit};
  int rc = offer_walk(t, after, include_archived, list_one, &l, e);
  if (rc) {
    json_decref(l.arr);
    return rc;
  }
  *out = l.arr;
  return 0;
}
