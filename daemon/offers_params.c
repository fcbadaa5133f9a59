/* offers_params.c -- reading the offers methods' params: the request's map as JSON (an offer
 * definition, a rule and the shop's attributes are free-form), typed members with the
 * field named in every error, and carts. Names follow the rest of the protocol:
 * customer_id, product_id, unit_price, lines (PROTOCOL.md "Offers and experiments").
 * Invariant: an unknown or mistyped member is invalid_params naming it, before anything is
 * written. */
#include <string.h>

#include "offers_wire.h"

int offers_params_json(const void *p, const char *const *allowed, json_t **out, perr_info_t *e) {
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

int offers_jstr(const json_t *o, const char *field, const char *k, int req, size_t max,
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

int offers_jint(const json_t *o, const char *field, const char *k, int req, int64_t lo,
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

int offers_jdbl(const json_t *o, const char *field, const char *k, double lo, double hi,
                double *out, perr_info_t *e) {
  const json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
    return perr_set(e, PERR_INVALID_PARAMS, field, "must be a number in %g..%g", lo, hi);
  *out = json_number_value(v);
  return 0;
}

int offers_jbool(const json_t *o, const char *field, const char *k, bool *out, perr_info_t *e) {
  const json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_boolean(v)) return perr_set(e, PERR_INVALID_PARAMS, field, "must be a boolean");
  *out = json_is_true(v);
  return 0;
}

int offers_answer(exec_ctx_t *x, json_t *j, void *r, perr_info_t *e) {
  if (!j) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = json_blob_make(x->arena, j, r, e);
  json_decref(j);
  return rc;
}

static int read_line(const json_t *o, size_t i, offers_cart_item_t *it, perr_info_t *e) {
  static const char *const keys[] = {"product_id", "category", "quantity", "unit_price", NULL};
  char f[64];
  const char *k;
  json_t *v;
  if (!json_is_object(o))
    return snprintf(f, sizeof f, "cart.lines[%zu]", i),
           perr_set(e, PERR_INVALID_PARAMS, f, "must be a map");
  json_object_foreach((json_t *)o, k, v) {
    int ok = 0;
    for (const char *const *a = keys; *a; a++) ok |= !strcmp(*a, k);
    if (!ok) {
      snprintf(f, sizeof f, "cart.lines[%zu].%.20s", i, k);
      return perr_set(e, PERR_INVALID_PARAMS, f, "unknown field");
    }
  }
  snprintf(f, sizeof f, "cart.lines[%zu].product_id", i);
  if (offers_jstr(o, f, "product_id", 1, 128, &it->product, e)) return e->code;
  snprintf(f, sizeof f, "cart.lines[%zu].category", i);
  if (offers_jstr(o, f, "category", 0, 128, &it->category, e)) return e->code;
  it->quantity = 1;
  snprintf(f, sizeof f, "cart.lines[%zu].quantity", i);
  if (offers_jint(o, f, "quantity", 0, 1, 1000000, &it->quantity, e)) return e->code;
  snprintf(f, sizeof f, "cart.lines[%zu].unit_price", i);
  return offers_jint(o, f, "unit_price", 1, 0, INT64_C(1) << 40, &it->price, e);
}

int offers_read_cart(exec_ctx_t *x, const json_t *j, int req, offers_cart_t *c, perr_info_t *e) {
  static const char *const keys[] = {"currency", "value", "lines", NULL};
  memset(c, 0, sizeof *c);
  if (!j || json_is_null(j)) return req ? perr_set(e, PERR_INVALID_PARAMS, "cart", "required") : 0;
  if (!json_is_object(j)) return perr_set(e, PERR_INVALID_PARAMS, "cart", "must be a map");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)j, k, v) {
    int ok = 0;
    for (const char *const *a = keys; *a; a++) ok |= !strcmp(*a, k);
    if (!ok) {
      char f[48];
      snprintf(f, sizeof f, "cart.%.30s", k);
      return perr_set(e, PERR_INVALID_PARAMS, f, "unknown field");
    }
  }
  if (offers_jstr(j, "cart.currency", "currency", 1, 3, &c->currency, e)) return e->code;
  const json_t *lines = json_object_get(j, "lines");
  int64_t sum = 0;
  if (lines && !json_is_null(lines)) {
    if (!json_is_array(lines) || json_array_size(lines) > 1000)
      return perr_set(e, PERR_INVALID_PARAMS, "cart.lines", "must be an array of at most 1000");
    size_t n = json_array_size(lines);
    offers_cart_item_t *it = arena_alloc(x->arena, (n ? n : 1) * sizeof *it);
    if (!it) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
      if (read_line(json_array_get(lines, i), i, &it[i], e)) return e->code;
      sum += it[i].quantity * it[i].price;
    }
    c->items = it;
    c->nitems = n;
  }
  c->value = sum;
  return offers_jint(j, "cart.value", "value", 0, 0, INT64_C(1) << 50, &c->value, e);
}
