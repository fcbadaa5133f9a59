/* offer_counter_memo.c -- the offers' budget and arm counters kept between decisions by one
 * thread (offers.decide on the loop), and the stamp that makes them exact.
 * The stamp: OFFER_COUNTS key "g", 'G' 1 | raw16, a fresh random value written in the same
 * transaction as every budget or arm counter record (offer_budget_store, offer_arm_store).
 * Invariant: a memo entry is used only while the stamp the decision's own transaction reads
 * equals the one it was read under, so it holds exactly what that transaction would read
 * (the stamp is random, not a count: a store restored to an older state, or changed by
 * another node, never shows a stamp the memo has seen with other counters). No stamp (a
 * store whose counters predate it), or a stamp unreadable: the memo is not used, every
 * counter is read from the store. Caps and sticky arms are per customer: never kept.
 * A decision under the same store snapshot as the last one (store_txn_snapshot_id: nothing
 * committed since) reads the same stamp: it is not read again. */
#include <stdlib.h>

#include <openssl/rand.h>

#include "offers/offers_internal.h"

#define STAMP_LEN OFFER_MEMO_STAMP_LEN
#define BUDGET_BIT OFFER_MEMO_BUDGET_BIT
typedef offer_memo_entry_t memo_offer_t;

static const unsigned char stamp_key[1] = {'g'};

offers_counter_memo_t *offers_counter_memo_new(void) {
  offers_counter_memo_t *m = calloc(1, sizeof *m);
  if (m) m->epoch = 1;
  return m;
}

void offers_counter_memo_free(offers_counter_memo_t *m) {
  if (!m) return;
  free(m->offers);
  free(m);
}

int offer_counters_stamp(store_txn_t *w) {
  unsigned char v[2 + STAMP_LEN] = {'G', 1};
  if (RAND_bytes(v + 2, STAMP_LEN) == 1)
    return store_put(w, STORE_T_OFFER_COUNTS, stamp_key, sizeof stamp_key, v, sizeof v);
  int rc = store_del(w, STORE_T_OFFER_COUNTS, stamp_key, sizeof stamp_key); /* no fresh
                                                      * stamp: none at all, memos stop */
  return rc == PERR_NOT_FOUND ? 0 : rc;
}

offers_counter_memo_t *offer_memo_begin(offers_counter_memo_t *m, store_txn_t *rd,
                                        const offers_catalog_t *c) {
  const void *v;
  size_t vn;
  if (!m) return NULL;
  uint64_t snap = store_txn_snapshot_id(rd);
  if (snap && m->valid && snap == m->snap) { /* nothing committed since: the same stamp */
  } else if (store_get(rd, STORE_T_OFFER_COUNTS, stamp_key, sizeof stamp_key, &v, &vn) ||
             vn != 2 + STAMP_LEN || ((const unsigned char *)v)[0] != 'G' ||
             ((const unsigned char *)v)[1] != 1) {
    m->valid = 0;
    return NULL;
  } else if (!m->valid || memcmp(m->stamp, (const unsigned char *)v + 2, STAMP_LEN)) {
    memcpy(m->stamp, (const unsigned char *)v + 2, STAMP_LEN);
    m->valid = 0; /* the entries are of another stamp: a new epoch below */
  }
  m->snap = snap;
  if (!m->valid || m->catalog != c->id || !c->id) {
    m->valid = 1;
    m->catalog = c->id;
    m->epoch++;
  }
  if (c->n > m->cap) {
    memo_offer_t *grown = realloc(m->offers, c->n * sizeof *grown);
    if (!grown) return NULL;
    for (size_t i = m->cap; i < c->n; i++) grown[i].epoch = 0;
    m->offers = grown;
    m->cap = c->n;
  }
  return m;
}

/* The entry of catalogue offer o, emptied when it is of an older epoch (one epoch is one
 * catalogue: its position names the offer). */
static memo_offer_t *entry(offers_counter_memo_t *m, const offers_catalog_t *c,
                           const offer_t *o) {
  memo_offer_t *x = &m->offers[o - c->offers];
  if (x->epoch != m->epoch) {
    x->epoch = m->epoch;
    x->have = 0;
  }
  return x;
}

int offer_memo_budget_fill(offers_counter_memo_t *m, store_txn_t *rd, const offers_catalog_t *c,
                           const offer_t *o, int64_t *redemptions, int64_t *money) {
  if (!m) return offer_budget_load(rd, o->id, redemptions, money);
  memo_offer_t *x = entry(m, c, o);
  if (!(x->have & BUDGET_BIT)) {
    int rc = offer_budget_load(rd, o->id, &x->used_r, &x->used_m);
    if (rc) return rc;
    x->have |= BUDGET_BIT;
  }
  *redemptions = x->used_r;
  *money = x->used_m;
  return 0;
}

const offer_arm_t *offer_memo_arm_fill(offers_counter_memo_t *m, store_txn_t *rd,
                                       const offers_catalog_t *c, const offer_t *o, int arm,
                                       offer_arm_t *buf, int *rc) {
  *rc = 0;
  if (!m || arm < 0 || arm >= OFFERS_MAX_ARMS)
    return (*rc = offer_arm_load(rd, o->id, arm, buf)) ? NULL : buf;
  memo_offer_t *x = entry(m, c, o);
  if (!(x->have & (1u << arm))) {
    if ((*rc = offer_arm_load(rd, o->id, arm, &x->arms[arm]))) return NULL;
    x->have |= 1u << arm;
  }
  return &x->arms[arm];
}

int offer_memo_arm(offers_counter_memo_t *m, store_txn_t *rd, const offers_catalog_t *c,
                   const offer_t *o, int arm, offer_arm_t *out) {
  int rc;
  const offer_arm_t *a = offer_memo_arm_ref(m, rd, c, o, arm, out, &rc);
  if (a && a != out) *out = *a;
  return rc;
}

bool offer_memo_sorted(offers_counter_memo_t *m, const offers_catalog_t *c) {
  if (!m || !c->id) return false;
  if (m->sorted_of != c->id) {
    m->sorted = 1;
    for (size_t i = 1; i < c->n && m->sorted; i++)
      m->sorted = strcmp(c->offers[i - 1].id, c->offers[i].id) < 0;
    m->sorted_of = c->id;
  }
  return m->sorted;
}
