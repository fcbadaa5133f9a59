/* recs_model.c -- see recs_model.h.
 * File: magic[8] "PATRRSV2" | u64 version | u64 build_ms | i64 saved_at | u32 0 | u32 crc |
 * snapshot bytes (recs_snapshot_bytes); crc = CRC-32 of the header bytes before it, then of
 * the snapshot bytes, so every byte but the crc's own is covered. Native byte order (the snapshot's own header checks it). */
#include "recs/recs_model.h"

#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "commerce/baskets.h"
#include "store/fileio.h"

#define FILE_MAGIC "PATRRSV2"
#define FILE_HDR 40
#define FILE_CRC_AT 36

/* ---- build ---- */

/* The orders as baskets: items[off[k] .. off[k+1]) are basket k's interned product ids. */
typedef struct bscan_s {
  recs_builder_t *b;
  uint32_t *items;
  uint64_t *off;
  int64_t *ts;
  uint32_t *cust;
  size_t nitems, capitems, nb, capoff, capts, capcust;
} bscan_t;

static int scan_cb(void *ctx, const core_basket_t *bk) {
  bscan_t *S = ctx;
  if (bk->n == 0) return 0;
  if (vec_reserve((void **)&S->items, &S->capitems, S->nitems + bk->n, sizeof(uint32_t)) ||
      vec_reserve((void **)&S->off, &S->capoff, S->nb + 2, sizeof(uint64_t)) ||
      vec_reserve((void **)&S->ts, &S->capts, S->nb + 1, sizeof(int64_t)) ||
      vec_reserve((void **)&S->cust, &S->capcust, S->nb + 1, sizeof(uint32_t)))
    return PERR_UNAVAILABLE;
  for (size_t i = 0; i < bk->n; i++)
    if (recs_builder_intern(S->b, bk->products[i].p, bk->products[i].n, &S->items[S->nitems++]))
      return PERR_UNAVAILABLE;
  if (recs_builder_intern_customer(S->b, bk->customer_id.p, bk->customer_id.n, &S->cust[S->nb]))
    return PERR_UNAVAILABLE;
  S->ts[S->nb] = bk->ts;
  S->off[++S->nb] = S->nitems;
  return 0;
}

/* Basket indices by (ts, index): ctx is the ts array. */
static int cmp_basket(const void *a, const void *b, void *ctx) {
  const int64_t *ts = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (ts[x] != ts[y]) return ts[x] < ts[y] ? -1 : 1;
  return (x > y) - (x < y);
}

int recs_model_build(store_txn_t *t, const recs_config_t *cfg, const recs_snapshot_t *seed,
                     recs_snapshot_t **out, perr_info_t *e) {
  bscan_t S = {0};
  uint32_t *order = NULL;
  int rc;
  *out = NULL;
  S.b = recs_builder_new(cfg, seed);
  if (!S.b || vec_reserve((void **)&S.off, &S.capoff, 1, sizeof(uint64_t))) {
    rc = perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory building the recs model");
    goto done;
  }
  S.off[0] = 0;
  e->message[0] = 0;
  if ((rc = core_scan_orders(t, scan_cb, &S, e))) {
    if (!e->message[0]) perr_set(e, rc, NULL, "out of memory building the recs model");
    goto done;
  }
  if (S.nb == 0) {
    rc = perr_set(e, PERR_INSUFFICIENT_DATA, NULL, "no orders recorded yet");
    goto done;
  }
  if (!(order = malloc(S.nb * sizeof(uint32_t)))) {
    rc = perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory building the recs model");
    goto done;
  }
  for (size_t i = 0; i < S.nb; i++) order[i] = (uint32_t)i;
  qsort_r(order, S.nb, sizeof(uint32_t), cmp_basket, S.ts);
  for (size_t r = 0; r < S.nb; r++) {
    uint32_t k = order[r];
    rc = recs_builder_add_basket_ids(S.b, S.cust[k], S.ts[k], S.items + S.off[k],
                                     (size_t)(S.off[k + 1] - S.off[k]));
    if (rc) {
      perr_set(e, rc, NULL, "recs: cannot add a basket");
      goto done;
    }
  }
  free(S.items);
  S.items = NULL;
  rc = recs_builder_build(S.b, out, e);
done:
  recs_builder_free(S.b);
  free(S.items);
  free(S.off);
  free(S.ts);
  free(S.cust);
  free(order);
  return rc;
}

/* ---- file ---- */

static uint32_t file_crc(const unsigned char *hdr, const void *bytes, size_t len) {
  return recs_crc32(recs_crc32(0, hdr, FILE_CRC_AT), bytes, len);
}

int recs_model_save(const char *path, const recs_snapshot_t *s, const recs_model_meta_t *m,
                    perr_info_t *e) {
  size_t len;
  const unsigned char *bytes = recs_snapshot_bytes(s, &len);
  unsigned char hdr[FILE_HDR] = {0};
  memcpy(hdr, FILE_MAGIC, 8);
  memcpy(hdr + 8, &m->version, 8);
  memcpy(hdr + 16, &m->build_ms, 8);
  memcpy(hdr + 24, &m->saved_at, 8);
  uint32_t crc = file_crc(hdr, bytes, len);
  memcpy(hdr + FILE_CRC_AT, &crc, 4);
  const void *parts[2] = {hdr, bytes};
  size_t lens[2] = {FILE_HDR, len};
  return file_write_atomic(path, parts, lens, 2, e);
}

int recs_model_load(const char *path, recs_snapshot_t **out, recs_model_meta_t *m,
                    perr_info_t *e) {
  unsigned char *buf;
  size_t n;
  uint32_t crc;
  *out = NULL;
  int rc = file_read_all(path, &buf, &n, e);
  if (rc) return rc;
  if (n < FILE_HDR) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "%s: truncated", path);
  } else if (memcmp(buf, FILE_MAGIC, 8) != 0) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "%s: not a recs model file of this build", path);
  } else if (memcpy(&crc, buf + FILE_CRC_AT, 4),
             crc != file_crc(buf, buf + FILE_HDR, n - FILE_HDR)) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "%s: checksum mismatch (truncated or corrupted)", path);
  } else if ((rc = recs_snapshot_load(buf + FILE_HDR, n - FILE_HDR, out, e))) {
    char why[sizeof e->message];
    memcpy(why, e->message, sizeof why);
    perr_set(e, rc, NULL, "%s: %.100s", path, why);
  } else {
    memcpy(&m->version, buf + 8, 8);
    memcpy(&m->build_ms, buf + 16, 8);
    memcpy(&m->saved_at, buf + 24, 8);
  }
  free(buf);
  return rc;
}
