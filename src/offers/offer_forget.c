/* offer_forget.c -- offers_customer_rekey (offers.h): for customer.forget, the offers rows
 * keyed by a customer id move to the pseudonym in the caller's write txn:
 *   OFFER_SEEN    customer \0 offer_id          (sticky arm, exposure window, conversion;
 *                                                the global holdout's pseudo-offers too)
 *   OFFER_COUNTS  'c' offer_id \0 customer \0 kind \0 be64(period)  (shown/redeemed caps)
 * Values are copied unchanged (none holds the id). The customer's event records go:
 *   OFFER_IDEM    'e' key (found through 'x' customer \0 key, which goes too)
 * because an impression's key is its impression id, SHA-256 of the id with the offer and the
 * hour, and every event's value a SHA-256 of the id with the offer and the event: both can
 * be recomputed from a guessed id. (A replay of such an event after the forget is recorded
 * as a new one, like any new activity under the old id.) The redemption answers (OFFER_IDEM
 * 'r') hold only a SHA-256 over the token and the id, which needs the token: they stay.
 * offers_customer_erase deletes the same rows instead of moving them (a customer.forget of
 * an id that only the offers tables know: there is no customer record to keep a pseudonym).
 * Invariant: rows are collected under the cursors and written after they close. */
#include <stdlib.h>

#include "offers/offers_internal.h"

typedef struct moved_s {
  unsigned char *old_k, *new_k, *v; /* new_k NULL: the row is deleted */
  size_t old_n, new_n, vn;
} moved_t;

typedef struct moves_s {
  moved_t *m;
  size_t n, cap;
} moves_t;

static unsigned char *dup(const void *p, size_t n) {
  unsigned char *d = malloc(n ? n : 1);
  if (d && n) memcpy(d, p, n);
  return d;
}

static int grow(moves_t *ms) {
  if (ms->n < ms->cap) return 0;
  size_t nc = ms->cap ? 2 * ms->cap : 16;
  moved_t *nm = realloc(ms->m, nc * sizeof *nm);
  if (!nm) return PERR_INTERNAL;
  ms->m = nm, ms->cap = nc;
  return 0;
}

/* Remember a deletion of key k. */
static int push_del(moves_t *ms, const void *k, size_t kn) {
  if (grow(ms)) return PERR_INTERNAL;
  moved_t *m = &ms->m[ms->n];
  *m = (moved_t){.old_k = dup(k, kn), .old_n = kn};
  if (!m->old_k) return PERR_INTERNAL;
  ms->n++;
  return 0;
}

/* Remember a move: new key = key[0..cut) + to + key[cut + from_len..) (to NULL: a
 * deletion). */
static int push(moves_t *ms, const unsigned char *k, size_t kn, size_t cut, size_t from_len,
                const char *to, const void *v, size_t vn) {
  if (!to) return push_del(ms, k, kn);
  if (grow(ms)) return PERR_INTERNAL;
  size_t tn = strlen(to), nn = kn - from_len + tn;
  moved_t *m = &ms->m[ms->n];
  m->old_k = dup(k, kn), m->old_n = kn;
  m->v = dup(v, vn), m->vn = vn;
  m->new_k = malloc(nn), m->new_n = nn;
  if (!m->old_k || !m->v || !m->new_k) {
    free(m->old_k), free(m->v), free(m->new_k);
    return PERR_INTERNAL;
  }
  memcpy(m->new_k, k, cut);
  memcpy(m->new_k + cut, to, tn);
  memcpy(m->new_k + cut + tn, k + cut + from_len, kn - cut - from_len);
  ms->n++;
  return 0;
}

/* OFFER_SEEN rows under "from \0". */
static int collect_seen(store_txn_t *w, const char *from, const char *to, moves_t *ms) {
  offer_key_t pre;
  offer_key_init(&pre, 0);
  offer_key_str(&pre, from);
  offer_key_sep(&pre);
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  int rc = store_cursor_open(w, STORE_T_OFFER_SEEN, pre.b, pre.n, &c);
  if (rc) return rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    if (kn < pre.n || memcmp(k, pre.b, pre.n)) break;
    if ((rc = push(ms, k, kn, 0, strlen(from), to, v, vn))) break;
  }
  store_cursor_close(c);
  return rc < 0 || rc > 1 ? rc : 0;
}

/* OFFER_COUNTS cap rows 'c' offer \0 customer \0 ... naming from (reads every cap row). */
static int collect_caps(store_txn_t *w, const char *from, const char *to, moves_t *ms) {
  size_t fn = strlen(from);
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  int rc = store_cursor_open(w, STORE_T_OFFER_COUNTS, "c", 1, &c);
  if (rc) return rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    const unsigned char *b = k;
    if (kn < 1 || b[0] != 'c') break;
    const unsigned char *sep = memchr(b + 1, 0, kn - 1);
    if (!sep) continue;
    size_t cut = (size_t)(sep - b) + 1;
    if (kn - cut > fn && !memcmp(b + cut, from, fn) && b[cut + fn] == 0 &&
        (rc = push(ms, k, kn, cut, fn, to, v, vn)))
      break;
  }
  store_cursor_close(c);
  return rc < 0 || rc > 1 ? rc : 0;
}

/* The event records of from: each index row 'x' from \0 key and the row 'e' key it names. */
static int collect_events(store_txn_t *w, const char *from, moves_t *ms, uint64_t *events) {
  offer_key_t pre;
  offer_key_init(&pre, 'x');
  offer_key_str(&pre, from);
  offer_key_sep(&pre);
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  int rc = store_cursor_open(w, STORE_T_OFFER_IDEM, pre.b, pre.n, &c);
  if (rc) return rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    if (kn < pre.n || memcmp(k, pre.b, pre.n)) break;
    offer_key_t ek; /* 'e' + the key after the prefix */
    size_t key_n = kn - pre.n;
    if (key_n + 1 > sizeof ek.b) continue; /* cannot be: keys are at most OFFERS_ID_MAX */
    ek.b[0] = 'e';
    memcpy(ek.b + 1, (const unsigned char *)k + pre.n, key_n);
    if ((rc = push_del(ms, k, kn)) || (rc = push_del(ms, ek.b, key_n + 1))) break;
    ++*events;
  }
  store_cursor_close(c);
  return rc < 0 || rc > 1 ? rc : 0;
}

static int apply(store_txn_t *w, store_table_t tb, const moves_t *ms, size_t from, size_t to) {
  int rc = 0;
  for (size_t i = from; i < to && !rc; i++) {
    const moved_t *m = &ms->m[i];
    rc = store_del(w, tb, m->old_k, m->old_n);
    if (rc == PERR_NOT_FOUND && !m->new_k) rc = 0; /* an index row without its event */
    if (!rc && m->new_k) rc = store_put(w, tb, m->new_k, m->new_n, m->v, m->vn);
  }
  return rc;
}

/* to NULL: every row is deleted (offers_customer_erase). */
static int rekey(store_txn_t *w, const char *from, const char *to, uint64_t *rows,
                 perr_info_t *e) {
  *rows = 0;
  int rc;
  if (from && strlen(from) > OFFERS_ID_MAX) return 0; /* no offers row can name it */
  if ((rc = offer_check_id(from, "customer_id", e)) ||
      (to && (rc = offer_check_id(to, "pseudonym", e))))
    return rc;
  moves_t ms = {0};
  uint64_t events = 0;
  rc = collect_seen(w, from, to, &ms);
  size_t nseen = ms.n, ncaps = 0;
  if (!rc) rc = collect_caps(w, from, to, &ms);
  if (!rc) ncaps = ms.n - nseen;
  if (!rc) rc = collect_events(w, from, &ms, &events);
  if (!rc) rc = apply(w, STORE_T_OFFER_SEEN, &ms, 0, nseen);
  if (!rc) rc = apply(w, STORE_T_OFFER_COUNTS, &ms, nseen, nseen + ncaps);
  if (!rc) rc = apply(w, STORE_T_OFFER_IDEM, &ms, nseen + ncaps, ms.n);
  if (!rc) *rows = nseen + ncaps + events;
  for (size_t i = 0; i < ms.n; i++) free(ms.m[i].old_k), free(ms.m[i].new_k), free(ms.m[i].v);
  /* (a deletion's new_k and v are NULL) */
  free(ms.m);
  return rc ? offer_store_err(w, rc, e) : 0;
}

int offers_customer_rekey(store_txn_t *w, const char *from, const char *to, uint64_t *rows,
                          perr_info_t *e) {
  if (!to) return offer_check_id(to, "pseudonym", e);
  return rekey(w, from, to, rows, e);
}

int offers_customer_erase(store_txn_t *w, const char *customer, uint64_t *rows, perr_info_t *e) {
  return rekey(w, customer, NULL, rows, e);
}
