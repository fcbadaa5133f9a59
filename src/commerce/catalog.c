/* catalog.c -- products: core_product_upsert / core_product_get and the PRODUCTS record.
 *
 * Upsert semantics (merge): the optional fields name, category and currency overwrite the
 * stored value when given (pstr.p != NULL; an empty string clears to "") and keep it when
 * absent (p == NULL); price, margin and stock likewise follow has_price / has_margin /
 * has_stock (a new product without stock is untracked, -1). active carries no presence flag
 * in product_t, so it is always replaced. updated_at is set to `now`. Reads return
 * has_stock = 1. Error fields: product_id, name, category, currency,
 * price, stock.
 * Invariants: a stored product with a price always has a currency; price >= 0; stock >= -1;
 * all validation happens before the single store_put.
 * Record: 'P' 1 | optstr name | optstr category | optstr currency | u8 flags
 * (1 has_price, 2 has_margin, 4 active) | sv price | sv stock | sv margin | sv updated_at. */
#include "commerce/commerce.h"
#include "store/record.h"
#include "commerce/baskets.h"

#define PF_PRICE 1u
#define PF_MARGIN 2u
#define PF_ACTIVE 4u

static void product_encode(rec_buf_t *b, const product_t *p) {
  rec_put_u8(b, 'P');
  rec_put_u8(b, 1);
  rec_put_optstr(b, p->name);
  rec_put_optstr(b, p->category);
  rec_put_optstr(b, p->currency);
  rec_put_u8(b, (p->has_price ? PF_PRICE : 0) | (p->has_margin ? PF_MARGIN : 0) |
                    (p->active ? PF_ACTIVE : 0));
  rec_put_sv(b, p->price);
  rec_put_sv(b, p->stock);
  rec_put_sv(b, p->margin);
  rec_put_sv(b, p->updated_at);
}

/* Decode; strings point into the buffer. 0 or -1 when corrupt. The one reader of the
 * format: baskets_products.c uses it too (declared in baskets.h). */
int core_product_record_decode(const void *v, size_t n, product_t *p) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  if (rec_get_u8(&r) != 'P' || rec_get_u8(&r) != 1) return -1;
  p->name = rec_get_optstr(&r);
  p->category = rec_get_optstr(&r);
  p->currency = rec_get_optstr(&r);
  unsigned f = rec_get_u8(&r);
  p->has_price = (f & PF_PRICE) != 0;
  p->has_margin = (f & PF_MARGIN) != 0;
  p->active = (f & PF_ACTIVE) != 0;
  p->price = rec_get_sv(&r);
  p->stock = rec_get_sv(&r);
  p->margin = rec_get_sv(&r);
  p->updated_at = rec_get_sv(&r);
  p->has_stock = 1;
  return rec_rd_done(&r) ? 0 : -1;
}

static int validate(const product_t *p, perr_info_t *e) {
  int rc;
  if ((rc = core_check_id(p->id, "product_id", e))) return rc;
  if ((rc = core_check_text(p->name, CORE_NAME_MAX, "name", e))) return rc;
  if ((rc = core_check_text(p->category, CORE_NAME_MAX, "category", e))) return rc;
  if ((p->currency.p || p->currency.n) && !core_currency_valid(p->currency, NULL))
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "unknown currency code");
  if (p->has_price && p->price < 0)
    return perr_set(e, PERR_INVALID_PARAMS, "price", "price must be >= 0");
  if (p->has_price && !p->currency.p)
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "currency is required with a price");
  if (p->has_stock && p->stock < -1)
    return perr_set(e, PERR_INVALID_PARAMS, "stock", "stock must be >= 0 (or -1: untracked)");
  return 0;
}

int core_product_upsert(store_txn_t *t, const product_t *in, int64_t now, perr_info_t *e) {
  int rc = validate(in, e);
  if (rc) return rc;

  product_t old = {0}, p = *in;
  const void *v;
  size_t vn;
  rc = store_get(t, STORE_T_PRODUCTS, in->id.p, in->id.n, &v, &vn);
  if (rc == 0) {
    if (core_product_record_decode(v, vn, &old) != 0) return core_corrupt("product", e);
    if (!p.name.p) p.name = old.name;
    if (!p.category.p) p.category = old.category;
    if (!p.currency.p) p.currency = old.currency;
    if (!p.has_price && old.has_price) {
      if (!core_pstr_eq(p.currency, old.currency))
        return perr_set(e, PERR_INVALID_PARAMS, "price",
                        "price is required when the currency changes");
      p.has_price = 1;
      p.price = old.price;
    }
    if (!p.has_stock) {
      p.has_stock = 1;
      p.stock = old.stock;
    }
    if (!p.has_margin && old.has_margin) {
      p.has_margin = 1;
      p.margin = old.margin;
    }
  } else if (rc != PERR_NOT_FOUND) {
    return core_store_err(t, rc, e);
  }
  if (!p.has_stock) p.stock = -1;
  if (!p.has_price) p.price = 0;
  if (!p.has_margin) p.margin = 0;
  p.updated_at = now;

  /* encode before the put: `old` points into the snapshot, which the put may invalidate */
  rec_buf_t b;
  rec_buf_init(&b);
  product_encode(&b, &p);
  if (b.oom) {
    rec_buf_free(&b);
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  rc = store_put(t, STORE_T_PRODUCTS, p.id.p, p.id.n, b.p, b.n);
  rec_buf_free(&b);
  return rc ? core_store_err(t, rc, e) : 0;
}

int core_product_get(store_txn_t *t, pstr_t id, arena_t *a, product_t *out, perr_info_t *e) {
  int rc = core_check_id(id, "product_id", e);
  if (rc) return rc;
  const void *v;
  size_t vn;
  rc = store_get(t, STORE_T_PRODUCTS, id.p, id.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, "product_id", "unknown product");
  if (rc) return core_store_err(t, rc, e);
  product_t p = {0};
  if (core_product_record_decode(v, vn, &p) != 0) return core_corrupt("product", e);
  if (core_pstr_dup(a, id, &p.id) || core_pstr_dup(a, p.name, &p.name) ||
      core_pstr_dup(a, p.category, &p.category) || core_pstr_dup(a, p.currency, &p.currency))
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  *out = p;
  return 0;
}
