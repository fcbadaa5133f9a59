/* handlers_experiments.c -- experiments.assign (loop thread: GrowthBook-identical
 * assignment of any shop experiment, nothing stored) and experiments.report (worker: an
 * offer's arms against its holdout, or with {global: true, currency} the whole engine against
 * the global holdout of [offers] global_holdout).
 * Invariant: both are reads; every unknown or mistyped field is invalid_params naming it.
 * experiments.assign reads the common call straight from msgpack (assign_fast); anything
 * else, errors included, goes through the JSON reading, so both give the same answers. */
#include <string.h>

#include "experiments/experiments.h"
#include "offers_wire.h"

/* ---- experiments.assign ---- */

/* The answer {variation, in_experiment, hash} written as bytes: the keys are constant and
 * the values fixed-size (variation < EXPERIMENT_MAX_VARIATIONS is a positive fixint, hash a
 * float 64 or nil), the same bytes msgpack-c's packer writes. */
#define ASSIGN_ANSWER_MAX 41
static int pack_assignment(exec_ctx_t *x, const experiment_assignment_t *a, void *r,
                           perr_info_t *e) {
  static const char k_variation[] = "\x83\xa9variation", k_in[] = "\xad" "in_experiment",
                    k_hash[] = "\xa4hash";
  _Static_assert(EXPERIMENT_MAX_VARIATIONS <= 128, "variation must be a positive fixint");
  char *p = arena_alloc(x->arena, ASSIGN_ANSWER_MAX), *q = p;
  if (!p) return perr_set(e, PERR_INTERNAL, NULL, "out of memory packing a result");
  memcpy(q, k_variation, sizeof k_variation - 1), q += sizeof k_variation - 1;
  *q++ = (char)(a->variation >= 0 && a->variation < 128 ? a->variation : 0);
  memcpy(q, k_in, sizeof k_in - 1), q += sizeof k_in - 1;
  *q++ = (char)(a->in_experiment ? 0xc3 : 0xc2);
  memcpy(q, k_hash, sizeof k_hash - 1), q += sizeof k_hash - 1;
  if (a->hash >= 0) {
    uint64_t bits;
    memcpy(&bits, &a->hash, sizeof bits);
    *q++ = (char)0xcb;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    bits = __builtin_bswap64(bits); /* big-endian on the wire: one store */
    memcpy(q, &bits, 8), q += 8;
#else
    for (int i = 7; i >= 0; i--) *q++ = (char)(bits >> (8 * i));
#endif
  } else {
    *q++ = (char)0xc0;
  }
  *(json_blob_t *)r = (json_blob_t){p, (size_t)(q - p)};
  return 0;
}

/* The fields the common call may have; their names differ in length, so the length picks
 * the candidate and one comparison of a known size (inlined) confirms it. */
typedef enum { F_OTHER, F_ID, F_KEY, F_SEED, F_WEIGHTS, F_COVERAGE, F_VARIATIONS, F_HASH_VERSION } assign_field_t;

#define FIELD_IS(s, lit) (memcmp((s), lit, sizeof lit - 1) == 0)
static assign_field_t assign_field(const msgpack_object *k) {
  if (k->type != MSGPACK_OBJECT_STR) return F_OTHER;
  const char *s = k->via.str.ptr;
  switch (k->via.str.size) {
    case 2: return FIELD_IS(s, "id") ? F_ID : F_OTHER;
    case 3: return FIELD_IS(s, "key") ? F_KEY : F_OTHER;
    case 4: return FIELD_IS(s, "seed") ? F_SEED : F_OTHER;
    case 7: return FIELD_IS(s, "weights") ? F_WEIGHTS : F_OTHER;
    case 8: return FIELD_IS(s, "coverage") ? F_COVERAGE : F_OTHER;
    case 10: return FIELD_IS(s, "variations") ? F_VARIATIONS : F_OTHER;
    case 12: return FIELD_IS(s, "hash_version") ? F_HASH_VERSION : F_OTHER;
    default: return F_OTHER;
  }
}
#undef FIELD_IS

static bool mp_num(const msgpack_object *o, double *out) {
  switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return true;
    default: return false;
  }
}

/* A non-empty string of at most max bytes without a NUL, borrowed from the request (the
 * unpacker's buffer outlives the handler on the loop). */
static bool mp_str(const msgpack_object *o, size_t max, const char **p, size_t *n) {
  if (!offers_wire_plain_str(o, max)) return false;
  *p = o->via.str.ptr;
  *n = o->via.str.size;
  return true;
}

/* The common call (key, id, weights, coverage, seed, hash_version, variations; no namespace
 * nor filters) read straight from the msgpack map. Returns 1 when answered, 0 to take the
 * general path (anything else, every malformed value included: it names the error). */
static int assign_fast(exec_ctx_t *x, const msgpack_object *o, void *r, perr_info_t *e,
                       int *rc) {
  if (o->type != MSGPACK_OBJECT_MAP) return 0;
  experiment_t xp;
  double weights[EXPERIMENT_MAX_VARIATIONS], d;
  int nweights = 0;
  int64_t variations = 0;
  experiment_defaults(&xp);
  const char *id = NULL;
  size_t id_len = 0;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *v = &o->via.map.ptr[i].val;
    switch (assign_field(&o->via.map.ptr[i].key)) {
      case F_KEY:
        if (!mp_str(v, 256, &xp.key, &xp.key_len)) return 0;
        break;
      case F_ID:
        if (!mp_str(v, 1024, &id, &id_len)) return 0;
        break;
      case F_SEED:
        if (v->type != MSGPACK_OBJECT_NIL && !mp_str(v, 256, &xp.seed, &xp.seed_len)) return 0;
        break;
      case F_HASH_VERSION:
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > 100) return 0;
        xp.hash_version = (int)v->via.u64;
        break;
      case F_VARIATIONS:
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < 1 ||
            v->via.u64 > EXPERIMENT_MAX_VARIATIONS)
          return 0;
        variations = (int64_t)v->via.u64;
        break;
      case F_COVERAGE:
        if (!mp_num(v, &d) || !(d >= 0 && d <= 1)) return 0;
        xp.coverage = d;
        break;
      case F_WEIGHTS:
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > EXPERIMENT_MAX_VARIATIONS)
          return 0;
        nweights = 0; /* a repeated field: the last one counts, as in the JSON reading */
        for (uint32_t k = 0; k < v->via.array.size; k++)
          if (!mp_num(&v->via.array.ptr[k], &d) || d != d) return 0;
          else weights[nweights++] = d;
        break;
      case F_OTHER: return 0; /* namespace, filters, or an unknown field */
    }
  }
  if (!xp.key || !id) return 0;
  xp.variations = (int)(variations ? variations : nweights ? nweights : 2);
  xp.weights = nweights ? weights : NULL;
  xp.nweights = nweights;
  experiment_assignment_t a;
  experiment_assign_n(&xp, id, id_len, NULL, NULL, &a);
  *rc = pack_assignment(x, &a, r, e);
  return 1;
}

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
  int rc = 0;
  if (assign_fast(x, &((const raw_params_t *)p)->obj, r, e, &rc)) return rc;
  if ((rc = offers_params_json(p, keys, &j, e))) return rc;
  experiment_defaults(&xp);
  const json_t *w = json_object_get(j, "weights");
  if ((rc = offers_jstr(j, "key", "key", 1, 256, &key, e)) ||
      (rc = offers_jstr(j, "id", "id", 1, 1024, &id, e)) ||
      (rc = offers_jstr(j, "seed", "seed", 0, 256, &seed, e)) ||
      (rc = offers_jint(j, "hash_version", "hash_version", 0, 0, 100, &hv, e)) ||
      (rc = offers_jdbl(j, "coverage", "coverage", 0, 1, &coverage, e)))
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
  if ((rc = offers_jint(j, "variations", "variations", 0, 1, EXPERIMENT_MAX_VARIATIONS, &variations, e)))
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
      if (!json_is_object(f) || (rc = offers_jstr(f, fld, "seed", 1, 256, &fseed, e))) {
        if (!rc) rc = perr_set(e, PERR_INVALID_PARAMS, "filters", "must be maps");
        goto done;
      }
      snprintf(fld, sizeof fld, "filters[%zu].hash_version", i);
      if ((rc = offers_jint(f, fld, "hash_version", 0, 0, 100, &fhv, e))) goto done;
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
  json_decref(j);
  return pack_assignment(x, &a, r, e);
done:
  json_decref(j);
  return rc;
}

/* ---- experiments.report (worker) ---- */

static json_t *effect_json(const stats_effect_t *f) {
  if (!f->valid) return json_null();
  return json_pack("{sfsfsfsfsf}", "estimate", f->estimate, "se", f->se, "lower", f->lower,
                   "upper", f->upper, "p_value", f->p_value);
}

static json_t *compare_json(const stats_comparison_t *c) {
  return json_pack("{sososfsososfsIsIsIsIso}", "conversion_abs", effect_json(&c->conv_abs),
                   "conversion_rel", effect_json(&c->conv_rel), "conversion_chance_to_beat",
                   c->conv_chance_to_beat, "rpe_abs", effect_json(&c->rpe_abs), "rpe_rel",
                   effect_json(&c->rpe_rel), "rpe_chance_to_beat", c->rpe_chance_to_beat,
                   "incremental_revenue", (json_int_t)c->incremental_revenue,
                   "incremental_lower", (json_int_t)c->incremental_lower, "incremental_upper",
                   (json_int_t)c->incremental_upper, "net_incremental",
                   (json_int_t)c->net_incremental, "roi",
                   c->has_roi ? json_real(c->roi) : json_null());
}

/* The arms, each arm >= 1 with vs_holdout, and srm when computed. */
static json_t *report_json(const offers_report_t *rep) {
  json_t *arms = json_array();
  for (int i = 0; i < rep->narms; i++) {
    const stats_arm_t *a = &rep->arms[i];
    json_t *arm = json_pack("{sssIsIsIsIsI}", "name", rep->arm_names[i], "exposures",
                            (json_int_t)a->exposures, "conversions", (json_int_t)a->conversions,
                            "revenue", (json_int_t)a->revenue, "discount_cost",
                            (json_int_t)a->discount_cost, "clicks", (json_int_t)rep->clicks[i]);
    if (rep->has_compare[i]) json_object_set_new(arm, "vs_holdout", compare_json(&rep->compare[i]));
    json_array_append_new(arms, arm);
  }
  json_t *out = json_pack("{so}", "arms", arms);
  if (out && rep->has_srm)
    json_object_set_new(out, "srm", json_pack("{sfsfsb}", "chi2", rep->srm_chi2, "p_value",
                                              rep->srm_p, "mismatch", rep->srm_flag));
  return out;
}

/* {global: true, currency}: the SRM check uses the configured share (read at start). */
static int report_global(exec_ctx_t *x, const json_t *j, void *r, perr_info_t *e) {
  const char *currency;
  offers_report_t rep;
  store_txn_t *t = exec_txn(x, e);
  int rc = !t ? e->code : offers_jstr(j, "currency", "currency", 1, 3, &currency, e);
  if (!rc) rc = offers_global_report(t, currency, x->d->offers->global_holdout, &rep, e);
  if (rc) return rc;
  json_t *out = report_json(&rep);
  if (out) {
    json_object_set_new(out, "global", json_true());
    json_object_set_new(out, "currency", json_string(currency));
    json_object_set_new(out, "global_holdout", json_real(x->d->offers->global_holdout));
  }
  return offers_answer(x, out, r, e);
}

int handle_experiments_report(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"offer_id", "global", "currency", NULL};
  json_t *j;
  const char *id;
  bool global = false;
  offer_t o;
  offers_report_t rep;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  if ((rc = offers_jbool(j, "global", "global", &global, e))) goto out;
  if (global) {
    if (json_object_get(j, "offer_id"))
      rc = perr_set(e, PERR_INVALID_PARAMS, "offer_id", "not with global");
    else rc = report_global(x, j, r, e);
    goto out;
  }
  if (json_object_get(j, "currency")) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "currency", "only with global: true");
    goto out;
  }
  store_txn_t *t = exec_txn(x, e);
  if ((rc = !t ? e->code : offers_jstr(j, "offer_id", "offer_id", 1, OFFERS_ID_MAX, &id, e)) ||
      (rc = offers_get(t, id, &o, e)))
    goto out;
  rc = offers_report(t, &o, &rep, e);
  json_t *res = rc ? NULL : report_json(&rep);
  if (res) {
    json_object_set_new(res, "offer_id", json_string(o.id));
    json_object_set_new(res, "redemptions", json_integer(rep.redemptions));
    json_object_set_new(res, "money_spent", json_integer(rep.money_spent));
  }
  offers_clear(&o);
  if (!rc) rc = offers_answer(x, res, r, e);
out:
  json_decref(j);
  return rc;
}
