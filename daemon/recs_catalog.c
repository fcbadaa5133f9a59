/* recs_catalog.c -- the recommendations' in-memory product catalogue: category, price,
 * currency, stock, margin and active flag per product, loaded from PRODUCTS at start and
 * updated after every committed product.upsert, so stock and prices act at once (an item
 * whose stock drops to 0 leaves the next answer). The core reads it through
 * recs_catalog_info (recs_catalog_t.info callback).
 * Invariants (loop thread only): products and cat grow together (index = interned id);
 * every product has an item id in the served snapshot + delta and item2p maps it back;
 * each category's members form one doubly linked list through cat_prev/cat_next; the arrays
 * a_* (by item id) say for every item what recs_catalog_info says with no currency and no
 * self item (a_ok = 0 when they could not be kept: the callback serves). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_recs.h"

static int grow(void **p, uint32_t *cap, uint32_t need, size_t el, int fill) {
  if (need <= *cap) return 0;
  uint32_t nc = *cap ? *cap : 256;
  while (nc < need) nc *= 2;
  void *np = realloc(*p, (size_t)nc * el);
  if (!np) return -1;
  if (fill >= 0) memset((char *)np + (size_t)*cap * el, fill, (size_t)(nc - *cap) * el);
  *p = np;
  *cap = nc;
  return 0;
}

int recs_catalog_init(recs_state_t *st) {
  st->products = recs_interner_new();
  st->categories = recs_interner_new();
  st->a_ok = 1;
  return st->products && st->categories ? 0 : -1;
}

void recs_catalog_free(recs_state_t *st) {
  recs_interner_free(st->products);
  recs_interner_free(st->categories);
  free(st->cat);
  free(st->item2p);
  free(st->cat_head);
  free(st->cat_consumable);
  free(st->a_stock); free(st->a_cons); free(st->a_category);
  free(st->a_price); free(st->a_margin);
}

/* Items [from, to) of the arrays to the no-data values. */
static void arr_clear(recs_state_t *st, uint32_t from, uint32_t to) {
  for (uint32_t i = from; i < to; i++) {
    st->a_stock[i >> 6] |= 1ull << (i & 63);
    st->a_cons[i >> 6] &= ~(1ull << (i & 63));
    st->a_category[i] = RECS_NO_CATEGORY;
    st->a_price[i] = st->a_margin[i] = RECS_PRICE_UNKNOWN;
  }
}

/* Room in the arrays for item ids below need; 0 on allocation failure (a_ok drops). */
static int arr_reserve(recs_state_t *st, uint32_t need) {
  if (need <= st->na) return 1;
  uint32_t nc = st->na ? st->na : 1024;
  while (nc < need) nc *= 2;
  uint64_t *s = realloc(st->a_stock, nc / 64 * sizeof(uint64_t));
  if (s) st->a_stock = s;
  uint64_t *c = s ? realloc(st->a_cons, nc / 64 * sizeof(uint64_t)) : NULL;
  if (c) st->a_cons = c;
  uint32_t *k = c ? realloc(st->a_category, (size_t)nc * sizeof(uint32_t)) : NULL;
  if (k) st->a_category = k;
  int64_t *p = k ? realloc(st->a_price, (size_t)nc * sizeof(int64_t)) : NULL;
  if (p) st->a_price = p;
  int64_t *m = p ? realloc(st->a_margin, (size_t)nc * sizeof(int64_t)) : NULL;
  if (m) st->a_margin = m;
  if (!m) {
    st->a_ok = 0;
    return 0;
  }
  arr_clear(st, st->na, nc);
  st->na = nc;
  return 1;
}

/* The arrays' entry of item from catalogue entry p (what recs_catalog_info answers). */
static void arr_set(recs_state_t *st, uint32_t item, uint32_t p) {
  if (item == RECS_NO_ITEM || !arr_reserve(st, item + 1)) return;
  const recs_centry_t *e = &st->cat[p];
  uint64_t bit = 1ull << (item & 63);
  if (e->stock != 0) st->a_stock[item >> 6] |= bit;
  else st->a_stock[item >> 6] &= ~bit;
  if (e->category < st->capcats && st->cat_consumable[e->category]) st->a_cons[item >> 6] |= bit;
  else st->a_cons[item >> 6] &= ~bit;
  st->a_category[item] = e->active ? e->category : RECS_CAT_HIDDEN;
  st->a_price[item] = e->price;
  st->a_margin[item] = e->margin;
}

int recs_catalog_arrays(const recs_state_t *st, recs_catalog_t *out) {
  if (!st->a_ok) return 0;
  *out = (recs_catalog_t){NULL, NULL, st->na, st->a_stock, st->a_cons, st->a_category,
                          st->a_price, st->a_margin};
  return 1;
}

uint32_t recs_currency_pack(pstr_t c) {
  if (!c.p || c.n != 3) return 0;
  return (uint32_t)(unsigned char)c.p[0] | (uint32_t)(unsigned char)c.p[1] << 8 |
         (uint32_t)(unsigned char)c.p[2] << 16;
}

int recs_catalog_map_item(recs_state_t *st, uint32_t item, uint32_t p) {
  if (item == RECS_NO_ITEM) return -1;
  if (grow((void **)&st->item2p, &st->nitem2p, item + 1, sizeof(uint32_t), 0xff)) return -1;
  st->item2p[item] = p;
  arr_set(st, item, p);
  return 0;
}

uint32_t recs_catalog_product(const recs_state_t *st, pstr_t id) {
  uint32_t p = recs_interner_find(st->products, id.p, id.n);
  return p == RECS_NO_ITEM || p >= st->ncat ? RECS_NONE : p;
}

uint32_t recs_catalog_category(const recs_state_t *st, pstr_t name) {
  uint32_t c = recs_interner_find(st->categories, name.p, name.n);
  return c == RECS_NO_ITEM ? RECS_NONE : c;
}

static int csv_has(const char *csv, const char *s, size_t n) {
  for (const char *p = csv; *p;) {
    while (*p == ' ' || *p == ',') p++;
    const char *q = p;
    while (*q && *q != ',') q++;
    const char *r = q;
    while (r > p && r[-1] == ' ') r--;
    if ((size_t)(r - p) == n && n && memcmp(p, s, n) == 0) return 1;
    p = q;
  }
  return 0;
}

void recs_catalog_consumables(recs_state_t *st, const char *csv) {
  /* unchanged (the usual case; the first byte first: the default is empty, no call) */
  if (st->consumable_csv[0] == csv[0] && (!csv[0] || strcmp(st->consumable_csv, csv) == 0))
    return;
  snprintf(st->consumable_csv, sizeof st->consumable_csv, "%s", csv);
  uint32_t n = recs_interner_count(st->categories);
  for (uint32_t c = 0; c < n && c < st->capcats; c++) {
    size_t l;
    const char *s = recs_interner_name(st->categories, c, &l);
    st->cat_consumable[c] = (uint8_t)csv_has(csv, s, l);
  }
  for (uint32_t p = 0; p < st->ncat; p++) arr_set(st, st->cat[p].item, p);
}

static void cat_unlink(recs_state_t *st, uint32_t p) {
  recs_centry_t *e = &st->cat[p];
  if (e->category >= st->capcats) return;
  if (e->cat_prev != RECS_NONE) st->cat[e->cat_prev].cat_next = e->cat_next;
  else st->cat_head[e->category] = e->cat_next;
  if (e->cat_next != RECS_NONE) st->cat[e->cat_next].cat_prev = e->cat_prev;
  e->cat_prev = e->cat_next = RECS_NONE;
}

static void cat_link(recs_state_t *st, uint32_t p) {
  recs_centry_t *e = &st->cat[p];
  if (e->category >= st->capcats) return;
  e->cat_prev = RECS_NONE;
  e->cat_next = st->cat_head[e->category];
  if (e->cat_next != RECS_NONE) st->cat[e->cat_next].cat_prev = p;
  st->cat_head[e->category] = p;
}

int recs_catalog_put(recs_state_t *st, const product_t *pr) {
  uint32_t p, cat = RECS_NO_CATEGORY;
  if (recs_intern(st->products, pr->id.p, pr->id.n, &p)) return -1;
  if (pr->category.p && pr->category.n) {
    if (recs_intern(st->categories, pr->category.p, pr->category.n, &cat)) return -1;
    uint32_t c1 = st->capcats, c2 = st->capcats;
    if (grow((void **)&st->cat_head, &c1, cat + 1, sizeof(uint32_t), 0xff) ||
        grow((void **)&st->cat_consumable, &c2, cat + 1, 1, 0))
      return -1;
    st->capcats = c1 < c2 ? c1 : c2;
    st->cat_consumable[cat] = (uint8_t)csv_has(st->consumable_csv, pr->category.p, pr->category.n);
  }
  if (p >= st->ncat) { /* new product */
    if (grow((void **)&st->cat, &st->capcat, p + 1, sizeof(recs_centry_t), -1)) return -1;
    recs_centry_t *e = &st->cat[p];
    memset(e, 0, sizeof *e);
    e->category = RECS_NO_CATEGORY;
    e->cat_prev = e->cat_next = RECS_NONE;
    e->item = RECS_NO_ITEM;
    st->ncat = p + 1;
    if (st->delta && recs_delta_intern(st->delta, pr->id.p, pr->id.n, &e->item) == PERR_OK)
      recs_catalog_map_item(st, e->item, p);
  }
  recs_centry_t *e = &st->cat[p];
  if (e->category != cat) {
    cat_unlink(st, p);
    e->category = cat;
    cat_link(st, p);
  }
  e->currency = recs_currency_pack(pr->currency);
  e->price = pr->has_price ? pr->price : RECS_PRICE_UNKNOWN;
  e->margin = pr->has_margin ? pr->margin : RECS_PRICE_UNKNOWN;
  e->stock = pr->has_stock ? pr->stock : -1;
  e->active = (uint8_t)(pr->active != 0);
  arr_set(st, e->item, p);
  return 0;
}

int recs_catalog_remap(recs_state_t *st) {
  if (st->item2p) memset(st->item2p, 0xff, (size_t)st->nitem2p * sizeof(uint32_t));
  if (st->na) arr_clear(st, 0, st->na);
  st->a_ok = 1; /* every product is set again below */
  for (uint32_t p = 0; p < st->ncat; p++) {
    size_t l;
    const char *s = recs_interner_name(st->products, p, &l);
    recs_centry_t *e = &st->cat[p];
    e->item = RECS_NO_ITEM;
    if (recs_delta_intern(st->delta, s, l, &e->item) != PERR_OK) return -1;
    if (recs_catalog_map_item(st, e->item, p)) return -1;
  }
  return 0;
}

int recs_catalog_info(void *ctx, uint32_t item, recs_item_info_t *o) {
  const recs_info_ctx_t *c = ctx;
  const recs_state_t *st = c->st;
  if (item >= st->nitem2p) return 0;
  uint32_t p = st->item2p[item];
  if (p == RECS_NONE) return 0;
  const recs_centry_t *e = &st->cat[p];
  o->in_stock = e->stock != 0;
  o->consumable = e->category < st->capcats && st->cat_consumable[e->category];
  o->category = e->active || item == c->self ? e->category : RECS_CAT_HIDDEN;
  o->price = c->currency && e->currency != c->currency ? RECS_PRICE_UNKNOWN : e->price;
  o->margin = e->margin;
  return 1;
}
