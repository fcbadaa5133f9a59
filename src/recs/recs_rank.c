/* recs_rank.c -- ranking the accumulated scores (recs_finish): drop what the business filters
 * and the request exclude, rank (score desc, popularity desc, id asc: popularity breaks ties),
 * honour max-per-category, then fill empty slots from the trending/popular lists (reported in
 * recs_answer_t).
 * Batches: candidates are taken in rank order batch by batch (one pass keeps the best T in a
 * small sorted array, rejecting with one float compare against its worst; a further batch,
 * rare, takes the next 4T below it), and the filters and the catalogue are consulted only for
 * the candidates walked, until the answer is full. This equals filtering every candidate,
 * sorting them all and walking the sorted list with the category cap. With a margin boost
 * the score depends on the catalogue, so every candidate is checked first.
 * recs_cart's quick walk (sc->track: a plain cart, sorted rows, an empty delta): the rows do
 * not list their first touches; the candidates at or above a floor are the ids touched more
 * than once plus the rows' entries at their own score down to the floor; walk_above merges
 * these sorted sources lazily in rank order and walks them (above cart_floor(limit) first,
 * then down to cart_floor(limit + 4)), else everything is listed and batched.
 * Invariants: nothing here writes to the snapshot; the catalogue callback must be a pure
 * function of the item id (it is called for fewer items, in a different order, than a
 * filter-everything scorer would). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "recs_score_internal.h"

/* Min-heap on "better": the root is the worst kept candidate. */
static void sift_worst(const ctx_t *c, struct cand *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && better(c, &h[m], &h[l])) m = l;
    if (l + 1 < n && better(c, &h[m], &h[l + 1])) m = l + 1;
    if (m == i) return;
    struct cand t = h[i]; h[i] = h[m]; h[m] = t;
    i = m;
  }
}

/* Batches up to this size are kept sorted (insertion from the worst end);
 * bigger ones are heaps (root = worst kept), sorted at the end. */
#define SEL_SORTED_MAX 256

/* Puts candidate x into the batch h[0..m) of capacity lim. Returns the new m. */
size_t recs_sel_put(const ctx_t *c, struct cand *h, size_t m, size_t lim,
                      const struct cand *x) {
  if (lim > SEL_SORTED_MAX) {
    if (m == lim) {
      if (!better(c, x, &h[0])) return m;
      h[0] = *x;
      sift_worst(c, h, m, 0);
      return m;
    }
    size_t j = m++;
    while (j > 0 && better(c, &h[(j - 1) / 2], x)) { h[j] = h[(j - 1) / 2]; j = (j - 1) / 2; }
    h[j] = *x;
    return m;
  }
  if (m == lim) {
    if (!better(c, x, &h[m - 1])) return m;
    m--; /* the worst leaves */
  }
  size_t pos = m; /* walk up past everything x beats: lower scores, then (rare) equal scores
                      that rank below it */
  float s = x->s;
  while (pos > 0 && s > h[pos - 1].s) {
    h[pos] = h[pos - 1];
    pos--;
  }
  while (pos > 0 && s == h[pos - 1].s && better(c, x, &h[pos - 1])) {
    h[pos] = h[pos - 1];
    pos--;
  }
  h[pos] = *x;
  return m + 1;
}

/* The worst kept score of a full batch. */
static inline float sel_worst(const struct cand *h, size_t lim) {
  return lim > SEL_SORTED_MAX ? h[0].s : h[lim - 1].s;
}

/* A heap batch -> best first (move the worst to the back repeatedly). */
void recs_sel_sort(const ctx_t *c, struct cand *h, size_t m, size_t lim) {
  if (lim <= SEL_SORTED_MAX) return;
  for (size_t j = m; j > 1; j--) {
    struct cand t = h[0]; h[0] = h[j - 1]; h[j - 1] = t;
    sift_worst(c, h, j - 1, 0);
  }
}

/* A guess of a score that at least lim candidates reach, for recs_cart (0 = no guess): the
 * entry at depth lim + (cart items and excluded ids, which never rank) of the cart items' rows.
 * Rows are stored best first with distinct, non-negative scores, and an item's total is at
 * least each of its terms, so the guess holds for the shipped models; first_batch checks it
 * anyway and does without it when it fails, so the answer never depends on it. */
/* cart_floor(lim) and, into *hi, cart_floor(lim - less) (>= it), in one pass over the rows. */
float recs_cart_floors(const ctx_t *c, size_t lim, size_t less, float *hi) {
  *hi = 0;
  if (!c->cart) return 0;
  /* in locals: the store to *hi may alias them */
  const uint32_t *off = c->s->g_off[0], *items = c->q->items;
  const float *scs = c->s->g_sc[0];
  size_t nitems = c->q->nitems, depth = lim + nitems + c->f.n_exclude_items, dhi = depth - less;
  uint32_t n = c->n;
  float floor = 0, top = 0;
  for (size_t i = 0; i < nitems; i++) {
    uint32_t it = items[i];
    if (it >= n) continue;
    uint32_t a = off[it], b = off[it + 1];
    if (b - a >= depth && scs[a + depth - 1] > floor) floor = scs[a + depth - 1];
    if (b - a >= dhi && scs[a + dhi - 1] > top) top = scs[a + dhi - 1];
  }
  *hi = top;
  return floor;
}

static float cart_floor(const ctx_t *c, size_t lim) {
  float hi;
  return recs_cart_floors(c, lim, 0, &hi);
}

/* Offers the candidates scoring >= thr (thr > 0) to the batch h[0..m) of capacity lim; once
 * the batch is full, only what reaches its worst (recs_sel_put decides ties). Returns the new m. */
static size_t offer_above(const ctx_t *c, struct cand *h, size_t m, size_t lim,
                          const struct dslot *d, const uint32_t *t, uint32_t nt,
                          const struct cand *C, size_t nc, float thr) {
  for (uint32_t u = 0; u < nt; u++) {
    uint32_t id = t[u];
    float s = d[id].v;
    if (!(s >= thr)) continue; /* also NaN */
    struct cand x = {id, s, RECS_NO_CATEGORY};
    m = recs_sel_put(c, h, m, lim, &x);
    if (m == lim && sel_worst(h, lim) > thr) thr = sel_worst(h, lim);
  }
  for (size_t i = 0; i < nc; i++) {
    if (!(C[i].s >= thr)) continue;
    m = recs_sel_put(c, h, m, lim, &C[i]);
    if (m == lim && sel_worst(h, lim) > thr) thr = sel_worst(h, lim);
  }
  return m;
}

/* The first batch: the best lim candidates (rank order) of all with a positive score, from
 * the touched dense slots t[0..nt) and C[0..nc). With floor > 0 only scores >= floor are
 * offered: when lim of them reach it, the batch's worst is >= floor, so every candidate left
 * out ranks below the batch and the batch is the same; when fewer reach it, the pass is
 * redone from every positive score (FLT_TRUE_MIN: s >= it exactly when s > 0). Returns the
 * batch size. */
static size_t first_batch(const ctx_t *c, struct cand *h, size_t lim, const struct dslot *d,
                          const uint32_t *t, uint32_t nt, const struct cand *C, size_t nc,
                          float floor) {
  if (floor > 0) {
    size_t m = offer_above(c, h, 0, lim, d, t, nt, C, nc, floor);
    if (m == lim) return m;
  }
  return offer_above(c, h, 0, lim, d, t, nt, C, nc, FLT_TRUE_MIN);
}

/* Rank order of a candidate list: insertion sort by better() when short; otherwise qsort on
 * (score desc, popularity desc, id asc) with the popularity parked in .cat meanwhile. */
static int cmp_cand_pop(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  if (x->cat != y->cat) return x->cat > y->cat ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

static void cand_sort(const ctx_t *c, struct cand *v, size_t n) {
  if (n <= 32) {
    for (size_t i = 1; i < n; i++) {
      struct cand x = v[i];
      size_t j = i;
      while (j > 0 && better(c, &x, &v[j - 1])) { v[j] = v[j - 1]; j--; }
      v[j] = x;
    }
    return;
  }
  for (size_t i = 0; i < n; i++) v[i].cat = pop_of(c, v[i].id);
  qsort(v, n, sizeof(*v), cmp_cand_pop);
  for (size_t i = 0; i < n; i++) v[i].cat = RECS_NO_CATEGORY;
}

/* Walks the ranked candidates run[0, n) (sorted, repeats of an id adjacent) into out[k..nout)
 * with the filters, the catalogue and the category cap. Returns the new k. */
static size_t walk_sorted(const ctx_t *c, const struct cand *run, size_t n, recs_result_t *out,
                          size_t k, size_t nout, uint32_t *cats) {
  for (size_t j = 0; j < n && k < nout; j++) {
    recs_item_info_t inf;
    if (j > 0 && run[j].id == run[j - 1].id) continue; /* the same id again */
    if (!allowed(c, run[j].id, &inf) || cat_full(c, cats, k, inf.category)) continue;
    cats[k] = inf.category;
    out[k++] = (recs_result_t){run[j].id, run[j].s, (uint8_t)reason_of(c, run[j].id)};
  }
  return k;
}

/* walk_above's extras are keys: a positive finite score's bits (which order like the score)
 * << 32 | the id, all distinct; its merge orders the sources by keys of their head's score
 * << 32 | the source's number. */
static inline uint64_t cand_key(uint32_t id, float s) {
  uint32_t bits;
  memcpy(&bits, &s, 4);
  return (uint64_t)bits << 32 | id;
}

#define KEY_SCORE_BITS 0xffffffff00000000ull

static inline float key_score(uint64_t k) {
  uint32_t bits = (uint32_t)(k >> 32);
  float s;
  memcpy(&s, &bits, 4);
  return s;
}

/* Moves the largest of the keys v[0, n) to v[0]. */
static inline void keys_front(uint64_t *v, size_t n) {
  if (n < 2) return;
  uint64_t best = v[0], *bp = v; /* the largest so far in a register, not re-read */
  for (uint64_t *p = v + 1, *e = v + n; p < e; p++)
    if (*p > best) best = *p, bp = p;
  *bp = v[0];
  v[0] = best;
}

/* Most cart rows walk_above merges (longer carts take the batch ranking). */
#define MERGE_ROWS_MAX 32

/* allowed() for walk_above (c->ids_zeroed), with its category into *cat. When plain (no
 * upsell bounds, no price band, no history to exclude, and k, the request's catalogue, is
 * arrays or none), only the stock bit and the excluded categories are left to check, read
 * straight from the arrays (the same values item_info() would fill in); otherwise allowed()
 * itself. */
static ALWAYS_INLINE int allowed_plain(const ctx_t *c, int plain, const recs_catalog_t *k,
                                       uint32_t id, uint32_t *cat) {
  if (!plain) {
    recs_item_info_t inf;
    int ok = allowed(c, id, &inf);
    *cat = inf.category;
    return ok;
  }
  *cat = RECS_NO_CATEGORY;
  if (!k || id >= k->n) return 1; /* no data: in stock, no category */
  if (c->f.in_stock_only && k->in_stock_bits && !((k->in_stock_bits[id >> 6] >> (id & 63)) & 1))
    return 0;
  if (k->category) {
    *cat = k->category[id];
    if (*cat != RECS_NO_CATEGORY &&
        in_list(c->f.exclude_categories, c->f.n_exclude_categories, *cat))
      return 0;
  }
  return 1;
}

/* A cart row's next candidate for walk_above: the first entry at or after q that is its id's
 * whole score (a single touch, not listed yet), unless an entry below floor (or the row's
 * end b) comes first. Returns where it stopped: a candidate when q < b && scs[q] >= floor. */
static inline uint32_t row_next(const struct dslot *d, uint64_t genhi, const uint32_t *ids,
                                const float *scs, uint32_t q, uint32_t b, float floor) {
  for (; q < b && scs[q] >= floor; q++) { /* stamp == gen && v == scs[q], as one word: the */
    uint32_t bits;                        /* score is > 0 (>= floor), so equal floats are */
    uint64_t w;                           /* equal bits */
    memcpy(&bits, scs + q, 4);
    memcpy(&w, d + ids[q], 8);
    if (w == SLOT_WORD(genhi, bits)) return q;
  }
  return q;
}

/* recs_cart's quick walk (sc->track, 0 < lo <= hi), in rank order and lazily: the candidates
 * scoring >= floor are the ids touched more than once that reach it (the extras) plus the cart
 * rows' entries that are their id's whole score, down to the floor (each row is sorted, so it
 * lists them best first). A merge of these sorted sources yields every candidate >= floor by
 * score desc; a run of equal scores is re-sorted by better() (the rank order's tie break) and
 * walked with the filters, the catalogue and the category cap until the answer is full. The
 * floor is hi first (fewer extras to list); when those candidates do not fill the answer, the
 * ones in [lo, hi), all ranking below them, follow. Every other candidate ranks below all of
 * them, so a filled answer is the full walk's answer. Returns the count written to out, -1 when
 * the sources run out first (the caller ranks everything), or an error. */
static int walk_above(ctx_t *c, recs_result_t *out, size_t nout, uint32_t *cats, float hi,
                      float lo) {
  recs_scratch_t *sc = c->sc;
  struct dslot *d = sc->d;
  uint32_t gen = sc->dgen;
  const uint64_t genhi = (uint64_t)gen << 32;
  if (sc->ntouched || sc->used) return -1; /* not a plain cart: rank everything */
  uint32_t pos[MERGE_ROWS_MAX], end[MERGE_ROWS_MAX];
  const uint32_t *ids = c->s->g_nbr[0];
  const float *scs = c->s->g_sc[0];
  size_t nr = 0, most = sc->nmulti;
  for (size_t i = 0; i < c->q->nitems; i++) {
    uint32_t it = c->q->items[i];
    if (it >= c->n) continue;
    if (nr == MERGE_ROWS_MAX) return -1;
    pos[nr] = c->s->g_off[0][it];
    end[nr] = c->s->g_off[0][it + 1];
    most += end[nr] - pos[nr];
    nr++;
  }
  if (!cand_reserve(&sc->c, &sc->ccap, most + 1)) return PERR_INTERNAL;
  if (sc->kcap < sc->nmulti + 1) {
    uint64_t *nk = realloc(sc->keys, ((size_t)sc->nmulti + 1) * 2 * sizeof(uint64_t));
    if (!nk) return PERR_INTERNAL;
    sc->keys = nk;
    sc->kcap = ((size_t)sc->nmulti + 1) * 2;
  }
  uint64_t *K = sc->keys; /* the extras' source: K[kp, nk), its best first (keys_front) */
  uint32_t nk = 0, kp = 0;
  struct cand *run = sc->c;
  /* the extras' ids in locals (the slots' stamp stores may alias sc's fields) */
  const uint32_t *multi = sc->multi, *multi_end = multi + sc->nmulti;
  size_t k = 0;
  c->ids_zeroed = 1; /* recs_finish() zeroed them; lo > 0 */
  /* the filters allowed_plain() decides by itself (no upsell, price band or history, an
   * array catalogue or none) */
  const recs_catalog_t *kat = c->q->catalog;
  int plain = !c->upsell && !(c->f.price_max > 0) && !c->exclude_history && !(kat && kat->info);
  for (float floor = hi;; floor = lo) {
    /* the extras reaching this floor, each once (a listed slot gets the past stamp gen - 1) */
    for (const uint32_t *mp = multi; mp < multi_end; mp++) { /* most fail the floor: first */
      uint32_t id = *mp;
      if (d[id].v >= floor && d[id].stamp == gen) {
        d[id].stamp = gen - 1;
        K[nk++] = cand_key(id, d[id].v);
      }
    }
    keys_front(K + kp, nk - kp);
    /* the sources with a candidate as keys (head score's bits << 32 | source nr, the extras
     * nr), best first: positive finite scores, so the keys order like the heads */
    uint64_t ord[MERGE_ROWS_MAX + 1];
    size_t ns = 0;
    for (size_t r = 0; r < nr; r++) {
      pos[r] = row_next(d, genhi, ids, scs, pos[r], end[r], floor);
      if (pos[r] < end[r] && scs[pos[r]] >= floor) ord[ns++] = cand_key((uint32_t)r, scs[pos[r]]);
    }
    if (kp < nk) ord[ns++] = (K[kp] & KEY_SCORE_BITS) | nr;
    for (size_t i = 1; i < ns; i++) { /* insertion by head */
      uint64_t x = ord[i];
      size_t j = i;
      while (j > 0 && ord[j - 1] < x) { ord[j] = ord[j - 1]; j--; }
      ord[j] = x;
    }
    while (ns > 0 && k < nout) {
      uint64_t sb = ord[0] & KEY_SCORE_BITS;
      float s = key_score(sb);
      size_t nrun = 0;
      do { /* every candidate scoring s: take the best source's head, move it down */
        size_t b = (uint32_t)ord[0];
        uint32_t id;
        uint64_t x = 0; /* the source's next key, 0 when it is used up */
        if (b == nr) {
          id = (uint32_t)K[kp++];
          keys_front(K + kp, nk - kp);
          if (kp < nk) x = (K[kp] & KEY_SCORE_BITS) | nr;
        } else {
          id = ids[pos[b]];
          d[id].stamp = gen - 1;
          pos[b] = row_next(d, genhi, ids, scs, pos[b] + 1, end[b], floor);
          if (pos[b] < end[b] && scs[pos[b]] >= floor) x = cand_key((uint32_t)b, scs[pos[b]]);
        }
        run[nrun++] = (struct cand){id, s, RECS_NO_CATEGORY};
        if (!x) { /* used up */
          ns--;
          for (size_t j = 0; j < ns; j++) ord[j] = ord[j + 1];
        } else {
          size_t j = 0;
          while (j + 1 < ns && ord[j + 1] > x) { ord[j] = ord[j + 1]; j++; }
          ord[j] = x;
        }
      } while (ns > 0 && (ord[0] & KEY_SCORE_BITS) == sb);
      if (nrun == 1) { /* walk_sorted for one */
        uint32_t id = run[0].id, cat;
        if (allowed_plain(c, plain, kat, id, &cat) && !cat_full(c, cats, k, cat)) {
          cats[k] = cat;
          out[k++] = (recs_result_t){id, s, (uint8_t)reason_of(c, id)};
        }
        continue;
      }
      cand_sort(c, run, nrun);
      k = walk_sorted(c, run, nrun, out, k, nout, cats);
    }
    if (k == nout || floor == lo) break;
  }
  c->ids_zeroed = 0;
  return k == nout ? (int)k : -1;
}

/* Ends sc->track for the batch ranking: lists every candidate once in the touched list (the
 * ids first touched outside the rows, then the cart rows' entries: every live slot is one or
 * the other, with stamp dgen, or dgen - 1 when walk_above listed it), marking each listed
 * slot with the past generation dgen - 2 (nothing reads the stamps after this; the next
 * request's generation is newer). */
static int track_materialize(ctx_t *c) {
  recs_scratch_t *sc = c->sc;
  struct dslot *d = sc->d;
  uint32_t mark = sc->dgen - 2;
  size_t rows = 0;
  for (size_t i = 0; i < c->q->nitems; i++)
    if (c->q->items[i] < c->n)
      rows += c->s->g_off[0][c->q->items[i] + 1] - c->s->g_off[0][c->q->items[i]];
  while ((size_t)sc->tcap < (size_t)sc->ntouched + rows)
    if (!recs_acc_touched_grow(sc)) return PERR_INTERNAL;
  uint32_t *t = sc->touched, n = 0;
  for (uint32_t u = 0; u < sc->ntouched; u++)
    if (d[t[u]].stamp != mark) {
      d[t[u]].stamp = mark;
      t[n++] = t[u];
    }
  const uint32_t *ids = c->s->g_nbr[0];
  for (size_t i = 0; i < c->q->nitems; i++) {
    uint32_t it = c->q->items[i];
    if (it >= c->n) continue;
    for (uint32_t q = c->s->g_off[0][it]; q < c->s->g_off[0][it + 1]; q++)
      if (d[ids[q]].stamp != mark) {
        d[ids[q]].stamp = mark;
        t[n++] = ids[q];
      }
  }
  sc->ntouched = n;
  sc->track = 0;
  return PERR_OK;
}

/* Ranks the accumulated scores, then fills from the fallback lists. */
int recs_finish(ctx_t *c, recs_result_t *out, size_t nout, recs_answer_t *ans) {
  recs_scratch_t *sc = c->sc;
  ans->fallback = RECS_FALLBACK_NONE;
  ans->from_fallback = 0;
  if (nout == 0) return 0;
  struct dslot *d = sc->d;
  const uint32_t *t = sc->touched;
  uint32_t dcap = sc->dcap;
  /* The request's items and excluded ids never rank (allowed() rejects them whatever the
   * catalogue says): zero them so that they take no batch slot. */
  for (size_t i = 0; i < c->q->nitems; i++)
    if (c->q->items[i] < dcap) d[c->q->items[i]].v = 0;
  for (size_t i = 0; i < c->f.n_exclude_items; i++)
    if (c->f.exclude_items[i] < dcap) d[c->f.exclude_items[i]].v = 0;
  /* With a margin boost the score depends on the catalogue: check and boost every candidate
   * first (into sc->c). Otherwise the candidates are the touched dense entries plus the
   * overflow map's (copied to sc->c), and the checks run on the walked ones only. */
  int checked = c->f.margin_boost != 0;
  size_t need = (checked ? (size_t)sc->ntouched : 0) + sc->used;
  if (!cand_reserve(&sc->c, &sc->ccap, need)) return PERR_INTERNAL;
  uint32_t cats_stack[64], *cats = nout <= 64 ? cats_stack : malloc(nout * sizeof(uint32_t));
  if (!cats) return PERR_INTERNAL;
  size_t k = 0;
  int done = 0;
  if (sc->track) { /* the quick walk, else the batches over every candidate */
    float fl = c->floor;
    int w = fl > 0 ? walk_above(c, out, nout, cats, c->floor_hi, fl) : -1;
    if (w == -1) w = track_materialize(c);
    else done = 1;
    if (w < 0) {
      if (cats != cats_stack) free(cats);
      return w;
    }
    if (done) k = (size_t)w;
    /* the quick walk's candidates are cart rows' entries; the fallback lists are snapshot
     * items too */
    ans->in_snapshot = done;
  }
  if (!done) {
  t = sc->touched; /* track_materialize may have moved it */
  uint32_t nt = checked ? 0 : sc->ntouched;
  size_t nc = 0;
  if (checked) {
    for (size_t u = 0; u < (size_t)sc->ntouched + sc->used; u++) {
      uint32_t id;
      float s;
      if (u < sc->ntouched) {
        id = t[u];
        s = d[id].v;
      } else {
        const struct mslot *ms = &sc->m[sc->slot[u - sc->ntouched]];
        id = ms->key;
        s = ms->val;
      }
      if (!(s > 0)) continue;
      recs_item_info_t inf;
      if (!allowed(c, id, &inf)) continue;
      if (inf.margin != RECS_PRICE_UNKNOWN && inf.price > 0)
        s *= (float)(1 + c->f.margin_boost * (double)inf.margin / (double)inf.price);
      if (!(s > 0)) continue;
      sc->c[nc++] = (struct cand){id, s, inf.category};
    }
  } else {
    for (uint32_t u = 0; u < sc->used; u++) {
      const struct mslot *ms = &sc->m[sc->slot[u]];
      if (ms->val > 0) sc->c[nc++] = (struct cand){ms->key, ms->val, RECS_NO_CATEGORY};
    }
  }
  const struct cand *C = sc->c;
  /* Batch size: the answer, plus what the catalogue checks may reject; each further batch
   * (rare) takes the next candidates in rank order, 4 times as many. */
  size_t lim = nout;
  if (!checked) {
    if (c->q->catalog || c->q->filter) lim += 4;
    if (c->exclude_history) lim += sc->hused < 64 ? sc->hused : 64;
  }
  struct cand bound = {0, 0, 0};
  for (int first = 1;; first = 0) {
    if (lim > (size_t)nt + nc) lim = (size_t)nt + nc;
    if (lim == 0) break;
    if (!cand_reserve(&sc->heap, &sc->heapcap, lim)) {
      if (cats != cats_stack) free(cats);
      return PERR_INTERNAL;
    }
    struct cand *h = sc->heap;
    size_t m = 0;
    if (first) { /* everything: the best lim of all */
      m = first_batch(c, h, lim, d, t, nt, C, nc, checked ? 0 : cart_floor(c, lim));
    } else { /* only what ranks below the previous batch */
      for (size_t u = 0; u < (size_t)nt + nc; u++) {
        struct cand x = u < nt ? (struct cand){t[u], d[t[u]].v, RECS_NO_CATEGORY} : C[u - nt];
        if (!(x.s > 0) || x.s > bound.s || !better(c, &bound, &x)) continue;
        if (m == lim && !(x.s >= sel_worst(h, lim))) continue;
        m = recs_sel_put(c, h, m, lim, &x);
      }
    }
    recs_sel_sort(c, h, m, lim);
    for (size_t j = 0; j < m && k < nout; j++) {
      uint32_t cat = h[j].cat;
      if (!checked) {
        recs_item_info_t inf;
        if (!allowed(c, h[j].id, &inf)) continue;
        cat = inf.category;
      }
      if (cat_full(c, cats, k, cat)) continue;
      cats[k] = cat;
      out[k++] = (recs_result_t){h[j].id, h[j].s, (uint8_t)reason_of(c, h[j].id)};
    }
    if (k == nout || m < lim) break;
    bound = h[m - 1];
    lim *= 4;
  }
  }
  for (int pass = 0; pass < 2 && k < nout && !c->no_fill; pass++) {
    int trend = pass == 0;
    if (trend && !c->p.fallback_trending) continue;
    const uint32_t *list = trend ? c->s->trend_rank : c->s->pop_rank;
    uint32_t len = trend ? c->s->h->n_trend : c->n, lim2 = len < 200000 ? len : 200000;
    for (uint32_t r = 0; r < lim2 && k < nout; r++) {
      uint32_t id = list[r];
      recs_item_info_t inf;
      if (quick_reject(c, id) || !allowed(c, id, &inf) || chosen(out, k, id) ||
          cat_full(c, cats, k, inf.category))
        continue;
      cats[k] = inf.category;
      /* fallback scores sit below every model score: 0 */
      out[k++] = (recs_result_t){id, 0.0f,
                                 (uint8_t)(c->upsell ? RECS_REASON_UPSELL
                                           : trend   ? RECS_REASON_TRENDING
                                                     : RECS_REASON_POPULAR)};
      ans->from_fallback++;
      if (ans->fallback == RECS_FALLBACK_NONE)
        ans->fallback = trend ? RECS_FALLBACK_TRENDING : RECS_FALLBACK_POPULAR;
    }
  }
  if (cats != cats_stack) free(cats);
  return (int)k;
}
