/* baskets_products.c -- core_scan_products (baskets.h): a read-only,
 * zero-copy walk over PRODUCTS. Record: 'P' 1 | optstr name | optstr category |
 * optstr currency | u8 flags (1 has_price, 2 has_margin, 4 active) | sv price | sv stock |
 * sv margin | sv updated_at (catalog.c writes and decodes it: core_product_record_decode).
 * Invariant: a corrupt record stops the scan with PERR_INTERNAL; nothing is written. */
#include <string.h>

#include "store/record.h"
#include "commerce/baskets.h"

int core_scan_products(store_txn_t *t, core_product_fn fn, void *ctx, perr_info_t *e) {
  store_cursor_t *c;
  int rc = store_cursor_open(t, STORE_T_PRODUCTS, "", 0, &c);
  if (rc) return core_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  int ret = 0;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    product_t p;
    memset(&p, 0, sizeof p);
    if (core_product_record_decode(v, vn, &p)) {
      ret = core_corrupt("product", e);
      break;
    }
    p.id = core_pstr(k, kn);
    if ((ret = fn(ctx, &p))) break;
  }
  if (rc < 0 && !ret) ret = core_store_err(t, rc, e);
  store_cursor_close(c);
  return ret;
}
