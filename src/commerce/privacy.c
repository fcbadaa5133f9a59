/* privacy.c -- see privacy.h. customer.forget reuses customer.merge: the pseudonym gets an
 * empty row, the customer is merged into it (orders, feedback and aggregates move, in this
 * transaction), then the pseudonym's row loses email and name and every merge tombstone that
 * names the id goes. customer.export is privacy_export.c's. */
#include "commerce/privacy.h"

#include <openssl/rand.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "commerce/merge.h"
#include "loyalty/loyalty.h"
#include "store/record.h"

static int make_pseudonym(pstr_t id, char out[PRIVACY_PSEUDONYM_MAX]) {
  unsigned char salt[32], md[EVP_MAX_MD_SIZE];
  unsigned mdn = 0;
  if (RAND_bytes(salt, sizeof salt) != 1) return -1;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
           EVP_DigestUpdate(c, salt, sizeof salt) == 1 && EVP_DigestUpdate(c, id.p, id.n) == 1 &&
           EVP_DigestFinal_ex(c, md, &mdn) == 1 && mdn >= 16;
  EVP_MD_CTX_free(c);
  OPENSSL_cleanse(salt, sizeof salt);
  if (!ok) return -1;
  memcpy(out, "anon-", 5);
  for (int i = 0; i < 16; i++) snprintf(out + 5 + 2 * i, 3, "%02x", md[i]);
  return 0;
}

/* Room for one more element of size el in the arena array *v (n used, *cap allocated). */
/* Delete the merge tombstones naming id: its own (id was a guest) and those of guests merged
 * into it (value == id). */
static int drop_tombstones(store_txn_t *t, pstr_t id, arena_t *a, perr_info_t *e) {
  rec_buf_t k;
  rec_buf_init(&k);
  rec_put_raw(&k, MERGE_TOMBSTONE_PREFIX, sizeof MERGE_TOMBSTONE_PREFIX);
  size_t pn = k.n;
  rec_put_raw(&k, id.p, id.n);
  if (k.oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = store_del(t, STORE_T_AUX, k.p, k.n);
  if (rc && rc != PERR_NOT_FOUND) {
    rec_buf_free(&k);
    return core_store_err(t, rc, e);
  }
  store_cursor_t *c;
  rc = store_cursor_open(t, STORE_T_AUX, k.p, pn, &c);
  if (rc) {
    rec_buf_free(&k);
    return core_store_err(t, rc, e);
  }
  pstr_t *del = NULL;
  size_t nd = 0, cap = 0;
  int oom = 0;
  const void *kk, *v;
  size_t kn, vn;
  while ((rc = store_cursor_next(c, &kk, &kn, &v, &vn)) > 0) {
    if (kn < pn || memcmp(kk, k.p, pn)) {
      rc = 0;
      break;
    }
    if (vn != id.n || memcmp(v, id.p, vn)) continue;
    if (arena_grow(a, (void **)&del, nd, &cap, sizeof *del)) {
      oom = 1;
      break;
    }
    del[nd].p = arena_memdup(a, kk, kn);
    del[nd].n = kn;
    if (!del[nd].p) {
      oom = 1;
      break;
    }
    nd++;
  }
  store_cursor_close(c);
  rec_buf_free(&k);
  if (oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  if (rc < 0) return core_store_err(t, rc, e);
  for (size_t i = 0; i < nd; i++)
    if ((rc = store_del(t, STORE_T_AUX, del[i].p, del[i].n))) return core_store_err(t, rc, e);
  return 0;
}

int core_customer_forget(store_txn_t *t, const forget_t *f, int64_t now, forget_result_t *r,
                         perr_info_t *e) {
  int rc;
  memset(r, 0, sizeof *r);
  if ((rc = core_check_id(f->customer_id, "customer_id", e))) return rc;
  arena_t a;
  arena_init(&a, 0);
  cust_rec_t c;
  rec_buf_t b, audit;
  rec_buf_init(&b);
  rec_buf_init(&audit);
  rc = core_cust_load(t, f->customer_id, &a, &c, e);
  if (rc == PERR_NOT_FOUND) rc = perr_set(e, rc, "customer_id", "unknown customer");
  if (rc) goto out;
  if (make_pseudonym(f->customer_id, r->pseudonym)) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "no random bytes for the pseudonym");
    goto out;
  }
  pstr_t pseudo = core_pstr(r->pseudonym, strlen(r->pseudonym));
  cust_rec_t p;
  memset(&p, 0, sizeof p);
  p.known = c.known;
  core_cust_encode(&b, &p);
  if (b.oom) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto out;
  }
  if ((rc = store_put(t, STORE_T_CUSTOMERS, pseudo.p, pseudo.n, b.p, b.n))) {
    rc = core_store_err(t, rc, e);
    goto out;
  }
  merge_t m = {.guest_id = f->customer_id, .customer_id = pseudo};
  merge_result_t mr;
  if ((rc = core_customer_merge(t, &m, now, &mr, e))) goto out;
  r->orders = mr.orders;
  r->feedback = mr.feedback;
  if ((rc = loy_customer_rekey(t, f->customer_id, pseudo, &r->loyalty, e))) goto out;
  /* the merged row took the customer's email/name (the pseudonym had none): erase them */
  if ((rc = core_cust_load(t, pseudo, &a, &p, e))) {
    if (rc == PERR_NOT_FOUND) rc = core_corrupt("pseudonym row", e);
    goto out;
  }
  p.email = core_pstr(NULL, 0);
  p.name = core_pstr(NULL, 0);
  rec_buf_free(&b);
  rec_buf_init(&b);
  core_cust_encode(&b, &p);
  rec_put_raw(&audit, PRIVACY_AUDIT_PREFIX, sizeof PRIVACY_AUDIT_PREFIX);
  rec_put_raw(&audit, pseudo.p, pseudo.n);
  rec_buf_t av;
  rec_buf_init(&av);
  rec_put_sv(&av, now);
  rec_put_uv(&av, r->orders);
  rec_put_uv(&av, r->feedback);
  if (b.oom || audit.oom || av.oom) {
    rec_buf_free(&av);
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto out;
  }
  rc = store_put(t, STORE_T_CUSTOMERS, pseudo.p, pseudo.n, b.p, b.n);
  if (!rc) rc = store_put(t, STORE_T_AUX, audit.p, audit.n, av.p, av.n);
  rec_buf_free(&av);
  if (rc) {
    rc = core_store_err(t, rc, e);
    goto out;
  }
  rc = drop_tombstones(t, f->customer_id, &a, e);
  /* merge_tombstone for (id -> pseudonym) is among those just dropped */
out:
  rec_buf_free(&b);
  rec_buf_free(&audit);
  arena_free(&a);
  return rc;
}
