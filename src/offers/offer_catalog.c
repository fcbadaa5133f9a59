/* offer_catalog.c -- the immutable compiled catalogue snapshot offers.decide reads: the live
 * offers in key order (offer_walk), the sorted attribute names the ranking and the rules read
 * with their slots, rules shared between offers with the same text, and the gate classes and
 * masks. Invariant: a built catalogue is never changed; a new one replaces it whole. */
#include <stdlib.h>

#include <openssl/rand.h>

#include "offers/condition.h"
#include "offers/offers_internal.h"

typedef struct build_ctx_s {
  offers_catalog_t *c;
  size_t cap;
} build_ctx_t;

static int build_one(offer_t *o, void *ctx, perr_info_t *e) {
  build_ctx_t *b = ctx;
  if (b->c->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    offer_t *p = realloc(b->c->offers, cap * sizeof *p);
    if (!p) {
      offers_clear(o);
      return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    }
    b->c->offers = p;
    b->cap = cap;
  }
  b->c->offers[b->c->n++] = *o;
  return 0;
}

/* The names the ranking reads (offer_decide.c expected_value) and the rules read. */
static const char *const RANKING_ATTRS[] = {"margin_rate", "predicted_clv", "p_alive",
                                            "churn_risk"};

typedef struct attrs_ctx_s {
  const char **v;
  size_t n, cap;
  int oom;
} attrs_ctx_t;

static void add_attr(const char *name, void *ctx) {
  attrs_ctx_t *a = ctx;
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 32;
    const char **p = realloc(a->v, cap * sizeof *p);
    if (!p) {
      a->oom = 1;
      return;
    }
    a->v = p, a->cap = cap;
  }
  a->v[a->n++] = name;
}

static int cmp_name(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* c->attrs: the names point into the rules (or are static), which live with the catalogue. */
static int collect_attrs(offers_catalog_t *c, perr_info_t *e) {
  attrs_ctx_t a = {0};
  for (size_t i = 0; i < sizeof RANKING_ATTRS / sizeof RANKING_ATTRS[0]; i++)
    add_attr(RANKING_ATTRS[i], &a);
  for (size_t i = 0; i < c->n; i++) condition_attributes(c->offers[i].rule, add_attr, &a);
  if (a.oom) {
    free(a.v);
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  qsort(a.v, a.n, sizeof *a.v, cmp_name);
  size_t n = 0;
  for (size_t i = 0; i < a.n; i++)
    if (!n || strcmp(a.v[n - 1], a.v[i])) a.v[n++] = a.v[i];
  c->attrs = a.v;
  c->nattrs = n;
  return 0;
}

typedef struct rule_text_s {
  char *text; /* the rule as canonical JSON (sorted keys, compact) */
  size_t offer;
} rule_text_t;

static int cmp_rule_text(const void *x, const void *y) {
  const rule_text_t *a = x, *b = y;
  int k = strcmp(a->text, b->text);
  return k ? k : (a->offer > b->offer) - (a->offer < b->offer);
}

/* rule_slot: one slot per distinct rule (equal canonical JSON compiles to the same
 * condition, so it gives the same answer for the same attributes). */
static int share_rules(offers_catalog_t *c, perr_info_t *e) {
  rule_text_t *r = c->n ? calloc(c->n, sizeof *r) : NULL;
  size_t n = 0;
  int rc = 0;
  if (c->n && !r) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  for (size_t i = 0; i < c->n; i++) {
    offer_t *o = &c->offers[i];
    o->rule_slot = -1;
    if (!o->rule) continue;
    char *t = json_dumps(json_object_get(o->def, "rule"), JSON_SORT_KEYS | JSON_COMPACT |
                                                             JSON_ENCODE_ANY);
    if (!t) {
      rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
      break;
    }
    r[n++] = (rule_text_t){t, i};
  }
  if (!rc && n) {
    qsort(r, n, sizeof *r, cmp_rule_text);
    for (size_t i = 0; i < n; i++) {
      if (i && strcmp(r[i - 1].text, r[i].text)) c->nrule_slots++;
      c->offers[r[i].offer].rule_slot = (int)c->nrule_slots;
    }
    c->nrule_slots++;
  }
  for (size_t i = 0; i < n; i++) free(r[i].text);
  free(r);
  return rc;
}

/* Patron's attributes (PROTOCOL.md offers.decide); any other name is the shop's alone. */
static const struct {
  const char *name;
  offers_attr_kind_t kind;
} PATRON_ATTRS[] = {
    {"id", OFFERS_ATTR_ID},
    {"order_count", OFFERS_ATTR_ORDER_COUNT},
    {"first_order", OFFERS_ATTR_FIRST_ORDER},
    {"days_since_last_order", OFFERS_ATTR_DAYS_SINCE_LAST_ORDER},
    {"tier", OFFERS_ATTR_TIER},
    {"points", OFFERS_ATTR_POINTS},
    {"segment", OFFERS_ATTR_SEGMENT},
    {"p_alive", OFFERS_ATTR_P_ALIVE},
    {"churn_risk", OFFERS_ATTR_CHURN_RISK},
    {"churn_band", OFFERS_ATTR_CHURN_BAND},
    {"predicted_clv", OFFERS_ATTR_PREDICTED_CLV},
    {"cart_value", OFFERS_ATTR_CART_VALUE},
    {"currency", OFFERS_ATTR_CURRENCY},
    {"cart_items", OFFERS_ATTR_CART_ITEMS},
    {"cart_categories", OFFERS_ATTR_CART_CATEGORIES},
    {"cart_quantity", OFFERS_ATTR_CART_QUANTITY},
};

/* The slots' kinds, the ranking's slots and each rule's map from its names to slots. */
static int bind_attrs(offers_catalog_t *c, perr_info_t *e) {
  c->attr_kind = calloc(c->nattrs ? c->nattrs : 1, 1);
  if (!c->attr_kind) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  for (size_t i = 0; i < c->nattrs; i++)
    for (size_t k = 0; k < sizeof PATRON_ATTRS / sizeof PATRON_ATTRS[0]; k++)
      if (!strcmp(c->attrs[i], PATRON_ATTRS[k].name))
        c->attr_kind[i] = (unsigned char)PATRON_ATTRS[k].kind;
  for (size_t k = 0; k < OFFERS_RANK_ATTRS; k++)
    c->rank_slot[k] = (size_t)offers_catalog_slot(c, RANKING_ATTRS[k]);
  for (size_t i = 0; i < c->n; i++) {
    offer_t *o = &c->offers[i];
    const char *const *names;
    size_t n = condition_names(o->rule, &names);
    if (!o->rule) continue;
    if (!(o->rule_attr = malloc((n ? n : 1) * sizeof *o->rule_attr)))
      return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    for (size_t k = 0; k < n; k++) o->rule_attr[k] = offers_catalog_slot(c, names[k]);
    o->rule_one = condition_single_name(o->rule);
    for (size_t k = 0; k < n; k++)
      if (o->rule_attr[k] >= 0)
        o->rule_groups |= offers_attr_group((offers_attr_kind_t)c->attr_kind[o->rule_attr[k]]);
  }
  return 0;
}

/* c->gates from the offers (after share_rules: the rule slots), each with its class: the
 * class of the same values among the last 64 made, else a new one (equal values in two
 * classes only cost a decision one more class check). */
static int build_gates(offers_catalog_t *c, perr_info_t *e) {
  if (!c->n) return 0;
  c->gates = calloc(c->n, sizeof *c->gates);
  c->classes = calloc(c->n, sizeof *c->classes);
  if (!c->gates || !c->classes) {
    free(c->gates), free(c->classes);
    c->gates = NULL, c->classes = NULL;
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  for (size_t i = 0; i < c->n; i++) {
    const offer_t *o = &c->offers[i];
    offer_gate_t *g = &c->gates[i];
    g->valid_from = o->valid_from;
    g->valid_until = o->valid_until;
    g->min_cart = o->min_cart;
    memcpy(g->currency, o->currency, 4); /* validated: 3 letters, then the NUL */
    g->rule_slot = o->rule && o->rule_slot >= 0 ? o->rule_slot : (int32_t)c->nrule_slots;
    g->archived = o->archived;
    offer_gate_class_t k;
    memset(&k, 0, sizeof k); /* padding too: classes compare whole */
    k.valid_from = g->valid_from;
    k.valid_until = g->valid_until;
    k.min_cart = g->min_cart;
    memcpy(k.currency, g->currency, 4);
    k.archived = g->archived;
    size_t j = c->nclasses;
    while (j > 0 && c->nclasses - j < 64 && memcmp(&c->classes[j - 1], &k, sizeof k)) j--;
    if (j > 0 && !memcmp(&c->classes[j - 1], &k, sizeof k)) {
      g->cls = (uint32_t)(j - 1);
    } else {
      g->cls = (uint32_t)c->nclasses;
      c->classes[c->nclasses++] = k;
    }
  }
  if (c->n > 64) return 0; /* the gates are checked one by one */
  c->gate_masks = calloc(c->nclasses + c->nrule_slots + 1, sizeof *c->gate_masks);
  if (!c->gate_masks) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  for (size_t i = 0; i < c->n; i++) {
    c->gate_masks[c->gates[i].cls] |= UINT64_C(1) << i;
    c->gate_masks[c->nclasses + (size_t)c->gates[i].rule_slot] |= UINT64_C(1) << i;
  }
  return 0;
}

int offers_catalog_build(store_txn_t *t, offers_catalog_t **out, perr_info_t *e) {
  build_ctx_t b = {calloc(1, sizeof(offers_catalog_t)), 0};
  if (!b.c) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = offer_walk(t, NULL, false, build_one, &b, e);
  if (!rc) rc = collect_attrs(b.c, e);
  if (!rc) rc = bind_attrs(b.c, e);
  if (!rc && RAND_bytes((unsigned char *)&b.c->id, sizeof b.c->id) != 1) b.c->id = 0;
  if (!rc) rc = share_rules(b.c, e);
  if (!rc) rc = build_gates(b.c, e);
  if (rc) {
    offers_catalog_free(b.c);
    return rc;
  }
  *out = b.c;
  return 0;
}

void offers_catalog_free(offers_catalog_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) offers_clear(&c->offers[i]);
  free(c->offers);
  free(c->attrs);
  free(c->attr_kind);
  free(c->gates);
  free(c->classes);
  free(c->gate_masks);
  free(c);
}

int offers_catalog_slot(const offers_catalog_t *c, const char *name) {
  size_t lo = 0, hi = c ? c->nattrs : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int k = strcmp(c->attrs[mid], name);
    if (!k) return (int)mid;
    if (k < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

bool offers_catalog_uses(const offers_catalog_t *c, const char *name) {
  return offers_catalog_slot(c, name) >= 0;
}
