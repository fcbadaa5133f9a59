/* offer_attrs.c -- the attributes offers.decide's rules and ranking read: the cart's
 * (offers_cart_attributes, whole), and one decision's attributes by catalogue slot, each
 * built at its first read (offers_attrs_t). A slot's value is Patron's when Patron sets the
 * attribute and the shop's otherwise, exactly as the JSON object that used to be built whole
 * (the shop's members first, Patron's set over them): the same constructors, so a value
 * jansson refuses (a string that is not UTF-8) leaves the shop's in place as it did.
 * With a pool (one per thread), Patron's values outlive the decision: a value the pool alone
 * holds (refcount 1) is set in place, and an equal string or cart list is kept as it is.
 * The rules read a slot typed (offers_attrs_value: Patron's numbers, booleans and ASCII
 * strings without JSON; anything else through the JSON value, so both always agree).
 * Invariants: a slot is computed at most once per decision; a profile group is loaded at most
 * once, and only when an attribute of it is read; every value is owned by the attributes
 * (a pooled one: one reference) and released by offers_attrs_clear; a pooled value is
 * changed only while no one but the pool holds it, so it always equals a fresh one. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "offers/offers_internal.h"

static bool in_strings(const json_t *arr, const char *s) {
  for (size_t i = 0; i < json_array_size(arr); i++)
    if (!strcmp(json_string_value(json_array_get(arr, i)), s)) return true;
  return false;
}

/* One cart attribute as offers_cart_attributes sets it (NULL: jansson refused it). */
static json_t *cart_value(offers_attr_kind_t k, const offers_cart_t *cart) {
  json_t *arr;
  int64_t qty = 0;
  switch (k) {
  case OFFERS_ATTR_CART_VALUE: return json_integer(cart->value);
  case OFFERS_ATTR_CURRENCY: return json_string(cart->currency ? cart->currency : "");
  case OFFERS_ATTR_CART_ITEMS:
    arr = json_array();
    for (size_t i = 0; arr && i < cart->nitems; i++)
      if (cart->items[i].product) json_array_append_new(arr, json_string(cart->items[i].product));
    return arr;
  case OFFERS_ATTR_CART_CATEGORIES:
    arr = json_array();
    for (size_t i = 0; arr && i < cart->nitems; i++) {
      const char *cat = cart->items[i].category;
      if (cat && !in_strings(arr, cat)) json_array_append_new(arr, json_string(cat));
    }
    return arr;
  case OFFERS_ATTR_CART_QUANTITY:
    for (size_t i = 0; i < cart->nitems; i++) qty += cart->items[i].quantity;
    return json_integer(qty);
  default: return NULL;
  }
}

int offers_cart_attributes(json_t *attrs, const offers_cart_t *cart) {
  static const struct {
    const char *name;
    offers_attr_kind_t kind;
  } cart_attrs[] = {{"cart_value", OFFERS_ATTR_CART_VALUE},
                    {"currency", OFFERS_ATTR_CURRENCY},
                    {"cart_items", OFFERS_ATTR_CART_ITEMS},
                    {"cart_categories", OFFERS_ATTR_CART_CATEGORIES},
                    {"cart_quantity", OFFERS_ATTR_CART_QUANTITY}};
  int rc = 0;
  for (size_t i = 0; i < sizeof cart_attrs / sizeof cart_attrs[0]; i++)
    rc |= json_object_set_new(attrs, cart_attrs[i].name, cart_value(cart_attrs[i].kind, cart));
  return rc ? PERR_INTERNAL : 0;
}

/* ---- the pool ---- */

struct offers_attr_pool_s {
  const offers_catalog_t *c; /* the catalogue the slots are of */
  size_t n;
  json_t **v;                /* by slot: one reference each */
};

offers_attr_pool_t *offers_attr_pool_new(void) { return calloc(1, sizeof(offers_attr_pool_t)); }

static void pool_empty(offers_attr_pool_t *p) {
  for (size_t i = 0; i < p->n; i++) json_decref(p->v[i]);
  free(p->v);
  p->v = NULL;
  p->n = 0;
  p->c = NULL;
}

void offers_attr_pool_free(offers_attr_pool_t *p) {
  if (!p) return;
  pool_empty(p);
  free(p);
}

void offers_attrs_use_pool(offers_attrs_t *a, offers_attr_pool_t *p) {
  if (!p || !a->c || !a->c->nattrs) return;
  if (p->c != a->c || p->n != a->c->nattrs) { /* another catalogue: other slots */
    pool_empty(p);
    if (!(p->v = calloc(a->c->nattrs, sizeof *p->v))) return;
    p->n = a->c->nattrs;
    p->c = a->c;
  }
  a->pooled = p->v;
}

/* Whether v is the pool's alone and of type t (then it may be changed in place). */
static bool only_pooled(const json_t *v, json_type t) {
  return v && json_typeof(v) == t && v->refcount == 1;
}

/* fresh into the pool slot (replacing what was there); a new reference to it (or NULL). */
static json_t *pool_put(json_t **slot, json_t *fresh) {
  json_decref(*slot);
  *slot = fresh;
  return json_incref(fresh);
}

static json_t *pool_integer(json_t **slot, json_int_t n) {
  if (only_pooled(*slot, JSON_INTEGER) && json_integer_set(*slot, n) == 0)
    return json_incref(*slot);
  return pool_put(slot, json_integer(n));
}

static json_t *pool_real(json_t **slot, double x) {
  if (only_pooled(*slot, JSON_REAL) && json_real_set(*slot, x) == 0) return json_incref(*slot);
  return pool_put(slot, json_real(x)); /* NULL for what json_real refuses */
}

static json_t *pool_string(json_t **slot, const char *s) {
  if (only_pooled(*slot, JSON_STRING) &&
      (!strcmp(json_string_value(*slot), s) || json_string_set(*slot, s) == 0))
    return json_incref(*slot);
  return pool_put(slot, json_string(s)); /* NULL for what json_string refuses */
}

/* Whether arr holds what cart_value(k) would build (cart_items, cart_categories). */
static bool same_cart_list(const json_t *arr, offers_attr_kind_t k, const offers_cart_t *cart) {
  size_t used = 0, n = json_array_size(arr);
  for (size_t i = 0; i < cart->nitems; i++) {
    const char *s = k == OFFERS_ATTR_CART_ITEMS ? cart->items[i].product : cart->items[i].category;
    if (!s) continue;
    if (k == OFFERS_ATTR_CART_CATEGORIES) { /* a category already listed is not added */
      bool listed = false;
      for (size_t j = 0; j < used && !listed; j++)
        listed = !strcmp(json_string_value(json_array_get(arr, j)), s);
      if (listed) continue;
    }
    if (used == n || strcmp(json_string_value(json_array_get(arr, used)), s)) return false;
    used++;
  }
  return used == n;
}

/* ---- one decision's attributes ---- */

static const offers_profile_t *group(offers_attrs_t *a, unsigned g) {
  if (!(a->loaded & g)) {
    a->loaded |= g;
    if (a->load) a->load(a->load_ctx, g, &a->prof);
  }
  return &a->prof;
}

/* Constructors through the slot's pool entry (slot NULL: fresh values). */
static json_t *mk_integer(json_t **slot, json_int_t n) {
  return slot ? pool_integer(slot, n) : json_integer(n);
}
static json_t *mk_real(json_t **slot, double x) { return slot ? pool_real(slot, x) : json_real(x); }
static json_t *mk_string(json_t **slot, const char *s) {
  return slot ? pool_string(slot, s) : json_string(s);
}

/* What Patron sets for a scalar attribute kind (false: nothing, the shop's value stands) as
 * a typed value, its string (s, NUL-terminated) not yet measured nor checked: the one source
 * of both patron_value (JSON) and patron_typed (the rules' typed values). */
#if defined(__GNUC__)
__attribute__((always_inline)) /* into patron_typed, on every decision's path */
#endif
static inline bool patron_raw(offers_attrs_t *a, offers_attr_kind_t k, condition_value_t *v) {
  const offers_profile_t *p;
  bool set = true;
  v->type = CONDITION_VALUE_INT;
  switch (k) {
  case OFFERS_ATTR_ID: v->type = CONDITION_VALUE_STR, v->s = a->customer; break;
  case OFFERS_ATTR_ORDER_COUNT:
    p = group(a, OFFERS_GROUP_ORDERS);
    v->i = p->customer_found ? p->order_count : 0;
    break;
  case OFFERS_ATTR_FIRST_ORDER:
    p = group(a, OFFERS_GROUP_ORDERS);
    v->type = CONDITION_VALUE_BOOL;
    v->b = p->customer_found ? p->order_count == 0 : true;
    break;
  case OFFERS_ATTR_DAYS_SINCE_LAST_ORDER:
    p = group(a, OFFERS_GROUP_ORDERS);
    set = p->customer_found && p->last_order_at > 0 && a->now >= p->last_order_at;
    v->i = set ? (a->now - p->last_order_at) / 86400 : 0;
    break;
  case OFFERS_ATTR_TIER:
    p = group(a, OFFERS_GROUP_LOYALTY);
    set = p->loyalty && p->has_tier && p->tier;
    v->type = CONDITION_VALUE_STR, v->s = p->tier;
    break;
  case OFFERS_ATTR_POINTS:
    p = group(a, OFFERS_GROUP_LOYALTY);
    set = p->loyalty;
    v->i = p->points;
    break;
  case OFFERS_ATTR_SEGMENT:
    p = group(a, OFFERS_GROUP_CLV);
    set = p->scored && p->segment;
    v->type = CONDITION_VALUE_STR, v->s = p->segment;
    break;
  case OFFERS_ATTR_P_ALIVE:
  case OFFERS_ATTR_CHURN_RISK:
    p = group(a, OFFERS_GROUP_CLV);
    set = p->scored && p->has_clv;
    v->type = CONDITION_VALUE_REAL;
    v->d = k == OFFERS_ATTR_P_ALIVE ? p->p_alive : p->churn_risk;
    break;
  case OFFERS_ATTR_CHURN_BAND:
    p = group(a, OFFERS_GROUP_CLV);
    set = p->scored && p->has_clv && p->churn_band;
    v->type = CONDITION_VALUE_STR, v->s = p->churn_band;
    break;
  case OFFERS_ATTR_PREDICTED_CLV:
    p = group(a, OFFERS_GROUP_CLV);
    set = p->scored && p->has_value;
    v->i = p->predicted_clv;
    break;
  case OFFERS_ATTR_CART_VALUE: v->i = a->cart->value; break;
  case OFFERS_ATTR_CURRENCY:
    v->type = CONDITION_VALUE_STR, v->s = a->cart->currency ? a->cart->currency : "";
    break;
  case OFFERS_ATTR_CART_QUANTITY:
    v->i = 0;
    for (size_t i = 0; i < a->cart->nitems; i++) v->i += a->cart->items[i].quantity;
    break;
  default: set = false; /* the cart lists, the shop's */
  }
  return set;
}

unsigned offers_attr_group(offers_attr_kind_t k) {
  switch (k) { /* patron_raw's group() calls, kind by kind */
  case OFFERS_ATTR_ORDER_COUNT:
  case OFFERS_ATTR_FIRST_ORDER:
  case OFFERS_ATTR_DAYS_SINCE_LAST_ORDER: return OFFERS_GROUP_ORDERS;
  case OFFERS_ATTR_TIER:
  case OFFERS_ATTR_POINTS: return OFFERS_GROUP_LOYALTY;
  case OFFERS_ATTR_SEGMENT:
  case OFFERS_ATTR_P_ALIVE:
  case OFFERS_ATTR_CHURN_RISK:
  case OFFERS_ATTR_CHURN_BAND:
  case OFFERS_ATTR_PREDICTED_CLV: return OFFERS_GROUP_CLV;
  default: return 0;
  }
}

/* Patron's value of an attribute kind (NULL: Patron does not set it, or jansson refuses it);
 * slot: its pool entry. */
static json_t *patron_value(offers_attrs_t *a, offers_attr_kind_t k, json_t **slot) {
  if (k == OFFERS_ATTR_CART_ITEMS || k == OFFERS_ATTR_CART_CATEGORIES) {
    if (slot && only_pooled(*slot, JSON_ARRAY) && same_cart_list(*slot, k, a->cart))
      return json_incref(*slot);
    return slot ? pool_put(slot, cart_value(k, a->cart)) : cart_value(k, a->cart);
  }
  condition_value_t v;
  if (!patron_raw(a, k, &v)) return NULL;
  switch (v.type) {
  case CONDITION_VALUE_BOOL: return json_boolean(v.b);
  case CONDITION_VALUE_INT: return mk_integer(slot, v.i);
  case CONDITION_VALUE_REAL: return mk_real(slot, v.d);
  default: return mk_string(slot, v.s);
  }
}

/* s's length when s is ASCII (then jansson takes it, valid UTF-8, as json_string would);
 * -1 otherwise. */
static ptrdiff_t ascii_len(const char *s) {
  const char *p = s;
  for (; *p; p++)
    if ((unsigned char)*p >= 0x80) return -1;
  return p - s;
}

/* cart_items / cart_categories as cart_value's array holds them (products in cart order;
 * distinct categories in order of first appearance), as a list of strings in the attrs'
 * storage for that kind; false when some string is not ASCII (the JSON array decides). */
static bool typed_cart_list(offers_attrs_t *a, offers_attr_kind_t k, condition_value_t *v) {
  const offers_cart_t *cart = a->cart;
  bool items = k == OFFERS_ATTR_CART_ITEMS;
  condition_str_t *out = items ? a->items_list : a->cats_list;
  if (!out) {
    out = cart->nitems <= OFFERS_ATTRS_INLINE_LIST
              ? (items ? a->inline_items : a->inline_cats)
              : malloc(cart->nitems * sizeof *out);
    if (!out) return false;
    *(items ? &a->items_list : &a->cats_list) = out;
  }
  size_t n = 0;
  for (size_t i = 0; i < cart->nitems; i++) {
    const char *s = items ? cart->items[i].product : cart->items[i].category;
    if (!s) continue;
    ptrdiff_t len = ascii_len(s);
    if (len < 0) return false;
    bool listed = false; /* a category already listed is not added */
    for (size_t j = 0; !items && j < n && !listed; j++)
      listed = out[j].n == (size_t)len && !memcmp(out[j].s, s, (size_t)len);
    if (!listed) out[n++] = (condition_str_t){s, (size_t)len};
  }
  v->type = CONDITION_VALUE_STRS;
  v->strs = out;
  v->n = n;
  return true;
}

/* Patron's value of an attribute kind as patron_value makes it, typed without JSON:
 * TYPED_SET (in *v), TYPED_UNSET (Patron sets nothing: the shop's value stands), or
 * TYPED_NO (patron_value and the shop's value decide: a string that is not ASCII, a real
 * JSON cannot hold, a cart list with such a string). */
enum { TYPED_NO, TYPED_SET, TYPED_UNSET };
static int patron_typed(offers_attrs_t *a, offers_attr_kind_t k, condition_value_t *v) {
  if (k == OFFERS_ATTR_CART_ITEMS || k == OFFERS_ATTR_CART_CATEGORIES)
    return typed_cart_list(a, k, v) ? TYPED_SET : TYPED_NO;
  if (!patron_raw(a, k, v)) return TYPED_UNSET; /* patron_value: NULL */
  if (v->type == CONDITION_VALUE_REAL) /* json_real refuses the rest */
    return isfinite(v->d) ? TYPED_SET : TYPED_NO;
  if (v->type != CONDITION_VALUE_STR) return TYPED_SET;
  ptrdiff_t n = ascii_len(v->s); /* else patron_value's json_string decides (it may refuse it) */
  v->n = (size_t)n;
  return n >= 0 ? TYPED_SET : TYPED_NO;
}

int offers_attrs_init(offers_attrs_t *a, const offers_catalog_t *c, const char *customer,
                      const offers_cart_t *cart, int64_t now, offers_profile_fn load,
                      void *load_ctx) {
  memset(a, 0, offsetof(offers_attrs_t, inline_vals));
  a->c = c;
  a->customer = customer;
  a->cart = cart;
  a->now = now;
  a->load = load;
  a->load_ctx = load_ctx;
  size_t n = c ? c->nattrs : 0;
  if (n <= OFFERS_ATTRS_INLINE) {
    a->shop = a->inline_vals;
    a->own = a->inline_vals + n;
    a->built = a->inline_built;
    a->typed = a->inline_typed;
  } else {
    a->shop = calloc(2 * n, sizeof *a->shop);
    a->built = calloc(n, 1);
    a->typed = calloc(n, sizeof *a->typed);
    if (!a->shop || !a->built || !a->typed) {
      free(a->shop);
      free(a->built);
      free(a->typed);
      a->shop = NULL;
      a->built = NULL;
      a->typed = NULL;
      return PERR_INTERNAL;
    }
    a->own = a->shop + n;
  }
  if (n) {
    memset(a->shop, 0, 2 * n * sizeof *a->shop);
    memset(a->built, 0, n);
  }
  return 0;
}

void offers_attrs_set_shop(offers_attrs_t *a, size_t slot, json_t *v) {
  if (!a->shop || slot >= a->c->nattrs) {
    json_decref(v);
    return;
  }
  if (a->built[slot] & OFFERS_BUILT_SHOP_LAZY) /* a typed value set before: this replaces it */
    a->built[slot] &= (unsigned char)~(OFFERS_BUILT_SHOP_LAZY | OFFERS_BUILT_TYPED);
  json_decref(a->shop[slot]);
  a->shop[slot] = v;
  a->njson += v != NULL;
}

bool offers_attrs_set_shop_typed(offers_attrs_t *a, size_t slot, const condition_value_t *v) {
  if (!a->shop || slot >= a->c->nattrs || a->c->attr_kind[slot] != OFFERS_ATTR_SHOP) return false;
  switch (v->type) {
  case CONDITION_VALUE_NULL:
  case CONDITION_VALUE_BOOL:
  case CONDITION_VALUE_INT:
  case CONDITION_VALUE_STR: break;
  case CONDITION_VALUE_REAL:
    if (isfinite(v->d)) break;
    return false; /* json_real refuses it: the JSON path decides */
  default: return false;
  }
  json_decref(a->shop[slot]);
  a->shop[slot] = NULL;
  /* the value the slot reads: Patron sets nothing for a shop-only kind (patron_raw), so it
   * is the shop's, as condition_value_from_json makes it of the JSON value */
  condition_value_t *t = &a->typed[slot];
  memset(t, 0, sizeof *t);
  t->type = v->type;
  if (v->type == CONDITION_VALUE_BOOL) t->b = v->b;
  else if (v->type == CONDITION_VALUE_INT) t->i = v->i;
  else if (v->type == CONDITION_VALUE_REAL) t->d = v->d;
  else if (v->type == CONDITION_VALUE_STR) t->s = v->s, t->n = v->n;
  a->built[slot] |= OFFERS_BUILT_TYPED | OFFERS_BUILT_SHOP_LAZY;
  return true;
}

/* The JSON value of a typed shop scalar (offers_attrs_set_shop_typed), as the wire's
 * conversion makes it (NULL: out of memory). */
static json_t *shop_json(const condition_value_t *v) {
  switch (v->type) {
  case CONDITION_VALUE_BOOL: return json_boolean(v->b);
  case CONDITION_VALUE_INT: return json_integer(v->i);
  case CONDITION_VALUE_REAL: return json_real(v->d);
  case CONDITION_VALUE_STR: return json_stringn_nocheck(v->s, v->n);
  default: return json_null();
  }
}

const json_t *offers_attrs_get(offers_attrs_t *a, size_t slot) {
  if (!a->shop || slot >= a->c->nattrs) return NULL;
  if (a->built[slot] & OFFERS_BUILT_SHOP_LAZY) {
    a->built[slot] &= (unsigned char)~OFFERS_BUILT_SHOP_LAZY;
    a->shop[slot] = shop_json(&a->typed[slot]);
    a->njson += a->shop[slot] != NULL;
  }
  if (!(a->built[slot] & OFFERS_BUILT_JSON)) {
    a->built[slot] |= OFFERS_BUILT_JSON;
    a->own[slot] = patron_value(a, (offers_attr_kind_t)a->c->attr_kind[slot],
                                a->pooled ? &a->pooled[slot] : NULL);
    a->njson += a->own[slot] != NULL;
  }
  return a->own[slot] ? a->own[slot] : a->shop[slot];
}

const condition_value_t *offers_attrs_value(offers_attrs_t *a, size_t slot) {
  static const condition_value_t null_value = {.type = CONDITION_VALUE_NULL};
  if (!a->shop || slot >= a->c->nattrs) return &null_value;
  condition_value_t *v = &a->typed[slot];
  if (!(a->built[slot] & OFFERS_BUILT_TYPED)) {
    a->built[slot] |= OFFERS_BUILT_TYPED;
    int t = patron_typed(a, (offers_attr_kind_t)a->c->attr_kind[slot], v);
    if (t == TYPED_UNSET && !a->shop[slot]) { /* no value at all (a lazy shop one is typed) */
      v->type = CONDITION_VALUE_NULL; /* condition_value_from_json(NULL, v) */
      v->n = 0;
      v->i = 0;
      v->s = NULL;
    } else if (t != TYPED_SET) {
      condition_value_from_json(offers_attrs_get(a, slot), v);
    }
  }
  return v;
}

void offers_attrs_clear(offers_attrs_t *a) {
  size_t n = a->c ? a->c->nattrs : 0;
  if (a->shop && a->njson)
    for (size_t i = 0; i < 2 * n; i++) json_decref(a->shop[i]);
  a->njson = 0;
  if (a->shop && a->shop != a->inline_vals) {
    free(a->shop);
    free(a->built);
    free(a->typed);
  }
  if (a->items_list != a->inline_items) free(a->items_list);
  if (a->cats_list != a->inline_cats) free(a->cats_list);
  a->items_list = a->cats_list = NULL;
  a->shop = a->own = NULL;
  a->built = NULL;
  a->typed = NULL;
}
