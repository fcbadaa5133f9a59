/* recs_build.c -- the model builder: collects baskets (distinct item ids, customer, time),
 * then builds a snapshot: popularity, trending, and top-K neighbour graphs computed row by
 * row (for item i: walk the transactions holding i, accumulate co-counts of the other items
 * in a dense per-worker array, score, keep the best K). No pair hash table is needed, the
 * work is sum over transactions of size^2, and rows are shared out to cfg.threads workers.
 * Invariants: a stored basket is sorted and duplicate-free; ids come from the builder's
 * interner (seeded from the previous snapshot so old ids keep their value). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "recs_internal.h"

#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec, x) \
  (((vec).n == (vec).cap && !vec_grow((void **)&(vec).v, &(vec).cap, sizeof(*(vec).v))) \
       ? 0 : ((vec).v[(vec).n++] = (x), 1))

static int vec_grow(void **v, size_t *cap, size_t el) {
  size_t nc = *cap ? *cap * 2 : 256;
  void *nv = realloc(*v, nc * el);
  if (!nv) return 0;
  *v = nv;
  *cap = nc;
  return 1;
}

struct recs_builder_s {
  recs_config_t cfg;
  recs_interner_t *items, *customers;
  VEC(uint32_t) bitems;
  VEC(uint64_t) boff;
  VEC(int64_t) bts;
  VEC(uint32_t) bcust;
  uint32_t *tmp;
  size_t tmpcap;
};

void recs_config_default(recs_config_t *c) {
  memset(c, 0, sizeof(*c));
  c->sim = RECS_SIM_COSINE;
  c->alpha = 0.5;
  c->shrink = 0;
  c->pop_damp = 0;
  c->power = 2;
  c->row_norm = 0;
  c->top_k = 100;
  c->min_support = 1;
  c->half_life_days = 0;
  c->max_basket = 500;
  c->customer_graph = 1;
  c->max_history = 200;
  c->trend_days = 7;
  c->threads = 2;
  c->model = RECS_MODEL_COOC;
  c->ease_lambda = 20;     /* EASE knobs: chosen on the validation split (docs/BENCHMARKS.md) */
  c->ease_pop_damp = 0.2;
  c->ease_max_items = 5000;
  c->ease_neighbours = 50;
  c->ease_top_k = 50;
}

void recs_config_shipped(recs_config_t *c) {
  recs_config_default(c);
  c->model = RECS_MODEL_SPARSE_EASE;
}

void recs_config_baseline_cosine(recs_config_t *c) {
  recs_config_default(c);
  c->power = 1;
  c->top_k = 0;
  c->max_basket = 0;
  c->customer_graph = 0;
}

recs_builder_t *recs_builder_new(const recs_config_t *cfg, const recs_snapshot_t *prev) {
  recs_builder_t *b = calloc(1, sizeof(*b));
  if (!b) return NULL;
  if (cfg) b->cfg = *cfg;
  else recs_config_default(&b->cfg);
  if (b->cfg.threads < 1) b->cfg.threads = 1;
  if (b->cfg.min_support < 1) b->cfg.min_support = 1;
  if (!(b->cfg.power > 0)) b->cfg.power = 1;
  b->items = recs_interner_new();
  b->customers = recs_interner_new();
  if (!b->items || !b->customers || !VEC_PUSH(b->boff, 0)) goto fail;
  if (prev) {
    for (uint32_t i = 0; i < prev->h->n_items; i++) {
      size_t n;
      const char *s = recs_snapshot_name(prev, i, &n);
      uint32_t id;
      if (recs_intern(b->items, s, n, &id) != PERR_OK) goto fail;
    }
  }
  return b;
fail:
  recs_builder_free(b);
  return NULL;
}

void recs_builder_free(recs_builder_t *b) {
  if (!b) return;
  recs_interner_free(b->items);
  recs_interner_free(b->customers);
  free(b->bitems.v);
  free(b->boff.v);
  free(b->bts.v);
  free(b->bcust.v);
  free(b->tmp);
  free(b);
}

int recs_builder_intern(recs_builder_t *b, const char *s, size_t n, uint32_t *id) {
  return recs_intern(b->items, s, n, id);
}

int recs_builder_intern_customer(recs_builder_t *b, const char *s, size_t n, uint32_t *id) {
  return recs_intern(b->customers, s, n, id);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

int recs_builder_add_basket_ids(recs_builder_t *b, uint32_t customer_id, int64_t ts,
                                const uint32_t *items, size_t nitems) {
  uint32_t nit = recs_interner_count(b->items);
  if (nitems == 0) return PERR_INVALID_PARAMS;
  if (customer_id != RECS_NO_ITEM && customer_id >= recs_interner_count(b->customers))
    return PERR_INVALID_PARAMS;
  if (nitems > b->tmpcap) {
    uint32_t *t = realloc(b->tmp, nitems * sizeof(uint32_t));
    if (!t) return PERR_INTERNAL;
    b->tmp = t;
    b->tmpcap = nitems;
  }
  for (size_t i = 0; i < nitems; i++) {
    if (items[i] >= nit) return PERR_INVALID_PARAMS;
    b->tmp[i] = items[i];
  }
  qsort(b->tmp, nitems, sizeof(uint32_t), cmp_u32);
  size_t k = 0;
  for (size_t i = 0; i < nitems; i++)
    if (k == 0 || b->tmp[k - 1] != b->tmp[i]) b->tmp[k++] = b->tmp[i];
  if (b->cfg.max_basket && k > b->cfg.max_basket) k = b->cfg.max_basket;
  for (size_t i = 0; i < k; i++)
    if (!VEC_PUSH(b->bitems, b->tmp[i])) return PERR_INTERNAL;
  if (!VEC_PUSH(b->boff, b->bitems.n) || !VEC_PUSH(b->bts, ts) ||
      !VEC_PUSH(b->bcust, customer_id))
    return PERR_INTERNAL;
  return PERR_OK;
}

int recs_builder_add_basket(recs_builder_t *b, const char *customer, size_t customer_len,
                            int64_t ts, const char *const *items, const size_t *item_lens,
                            size_t nitems) {
  uint32_t cid = RECS_NO_ITEM, stack[64], *ids = stack;
  if (customer && customer_len) {
    int rc = recs_intern(b->customers, customer, customer_len, &cid);
    if (rc) return rc;
  }
  if (nitems > 64 && !(ids = malloc(nitems * sizeof(uint32_t)))) return PERR_INTERNAL;
  int rc = PERR_OK;
  for (size_t i = 0; i < nitems && rc == PERR_OK; i++)
    rc = recs_intern(b->items, items[i], item_lens[i], &ids[i]);
  if (rc == PERR_OK) rc = recs_builder_add_basket_ids(b, cid, ts, ids, nitems);
  if (ids != stack) free(ids);
  return rc;
}

void recs_builder_baskets(const recs_builder_t *b, const uint64_t **offsets,
                          const uint32_t **items, size_t *nbaskets, uint32_t *nitems) {
  *offsets = b->boff.v;
  *items = b->bitems.v;
  *nbaskets = b->bts.n;
  *nitems = recs_interner_count(b->items);
}

/* ---- graph computation ---- */
typedef struct graph_job_s {
  const recs_config_t *cfg;
  uint32_t n;
  const uint64_t *toff; const uint32_t *titems; const float *tw; /* transactions */
  const uint64_t *ioff; const uint32_t *itx;                      /* item -> transactions */
  const double *nw; double N;
  const double *fa, *fb; /* per-item factors of COSINE (n^-alpha, n^-(1-alpha) * damp) */
  const double *damp;    /* n^-pop_damp */
  atomic_uint next;
  uint32_t *row_len, *row_owner; uint64_t *row_start;
  struct { uint32_t *nbr; float *sc; size_t n, cap; } out[64];
  atomic_int failed;
} graph_job_t;

typedef recs_cand_t cand_t;

static int worse(cand_t a, cand_t b) { return a.s < b.s || (a.s == b.s && a.id > b.id); }

static void heap_sift(cand_t *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && worse(h[l], h[m])) m = l;
    if (l + 1 < n && worse(h[l + 1], h[m])) m = l + 1;
    if (m == i) return;
    cand_t t = h[i]; h[i] = h[m]; h[m] = t;
    i = m;
  }
}

static int cmp_cand(const void *a, const void *b) {
  cand_t x = *(const cand_t *)a, y = *(const cand_t *)b;
  return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

size_t recs_topk_push(recs_cand_t *heap, size_t nh, size_t K, recs_cand_t c) {
  if (nh < K) {
    heap[nh++] = c;
    if (nh == K)
      for (size_t x = K / 2 + 1; x-- > 0;) heap_sift(heap, nh, x);
  } else if (K && worse(heap[0], c)) {
    heap[0] = c;
    heap_sift(heap, nh, 0);
  }
  return nh;
}

void recs_topk_sort(recs_cand_t *heap, size_t nh) { qsort(heap, nh, sizeof(cand_t), cmp_cand); }

static double score_pair(const graph_job_t *J, uint32_t i, uint32_t j, double c, uint32_t cnt) {
  const recs_config_t *cf = J->cfg;
  double s;
  switch (cf->sim) {
  case RECS_SIM_COOC: s = c * J->damp[j]; break;
  case RECS_SIM_LIFT: s = c * J->N / (J->nw[i] * J->nw[j]) * J->damp[j]; break;
  case RECS_SIM_JACCARD: s = c / (J->nw[i] + J->nw[j] - c) * J->damp[j]; break;
  default: s = c * J->fa[i] * J->fb[j]; break;
  }
  if (cf->shrink > 0) s *= cnt / (cnt + cf->shrink);
  if (cf->power != 1) s = pow(s, cf->power);
  return s;
}

static void *graph_worker(void *arg) {
  graph_job_t *J = ((void **)arg)[0];
  int w = (int)(intptr_t)((void **)arg)[1];
  uint32_t n = J->n, K = J->cfg->top_k ? J->cfg->top_k : n;
  float *accw = calloc(n ? n : 1, sizeof(float));
  uint32_t *accc = calloc(n ? n : 1, sizeof(uint32_t));
  uint32_t *touched = malloc((n ? n : 1) * sizeof(uint32_t));
  cand_t *heap = malloc((K ? K : 1) * sizeof(cand_t));
  if (!accw || !accc || !touched || !heap) J->failed = 1;
  for (;;) {
    uint32_t lo = atomic_fetch_add(&J->next, 64);
    if (J->failed || lo >= n) break;
    uint32_t hi = lo + 64 < n ? lo + 64 : n;
    for (uint32_t i = lo; i < hi; i++) {
      size_t nt = 0, nh = 0;
      for (uint64_t p = J->ioff[i]; p < J->ioff[i + 1]; p++) {
        uint32_t t = J->itx[p];
        float wt = J->tw[t];
        for (uint64_t q = J->toff[t]; q < J->toff[t + 1]; q++) {
          uint32_t j = J->titems[q];
          if (j == i) continue;
          if (accc[j]++ == 0) touched[nt++] = j;
          accw[j] += wt;
        }
      }
      for (size_t k = 0; k < nt; k++) {
        uint32_t j = touched[k];
        if (accc[j] >= J->cfg->min_support) {
          cand_t c = {j, (float)score_pair(J, i, j, accw[j], accc[j])};
          if (c.s > 0 && isfinite(c.s)) nh = recs_topk_push(heap, nh, K, c);
        }
        accc[j] = 0;
        accw[j] = 0;
      }
      recs_topk_sort(heap, nh);
      float mx = nh ? heap[0].s : 1;
      if (J->out[w].n + nh > J->out[w].cap) {
        size_t nc = J->out[w].cap ? J->out[w].cap : 4096;
        while (nc < J->out[w].n + nh) nc *= 2;
        uint32_t *nn = realloc(J->out[w].nbr, nc * sizeof(uint32_t));
        if (nn) J->out[w].nbr = nn;
        float *ns = realloc(J->out[w].sc, nc * sizeof(float));
        if (ns) J->out[w].sc = ns;
        if (!nn || !ns) { J->failed = 1; break; }
        J->out[w].cap = nc;
      }
      J->row_start[i] = J->out[w].n;
      J->row_len[i] = (uint32_t)nh;
      J->row_owner[i] = (uint32_t)w;
      for (size_t k = 0; k < nh; k++) {
        J->out[w].nbr[J->out[w].n] = heap[k].id;
        J->out[w].sc[J->out[w].n++] = J->cfg->row_norm ? heap[k].s / mx : heap[k].s;
      }
    }
  }
  free(accw);
  free(accc);
  free(touched);
  free(heap);
  return NULL;
}

/* Transactions (CSR, sorted distinct items, weights) -> top-K graph. */
int recs_cooc_graph(const recs_config_t *cfg, uint32_t n, const uint64_t *toff,
                       const uint32_t *titems, const float *tw, size_t ntx, graph_out_t *g) {
  int rc = PERR_INTERNAL, nthr = cfg->threads > 64 ? 64 : cfg->threads;
  graph_job_t *J = calloc(1, sizeof(*J));
  double *nw = calloc(n + 1, sizeof(double)), *fa = malloc((n + 1) * sizeof(double));
  double *fb = malloc((n + 1) * sizeof(double)), *damp = malloc((n + 1) * sizeof(double));
  uint64_t *ioff = calloc(n + 2, sizeof(uint64_t));
  uint32_t *itx = malloc((toff[ntx] + 1) * sizeof(uint32_t));
  memset(g, 0, sizeof(*g));
  if (!J || !nw || !fa || !fb || !damp || !ioff || !itx) goto out;
  double N = 0;
  for (size_t t = 0; t < ntx; t++) {
    N += tw[t];
    for (uint64_t q = toff[t]; q < toff[t + 1]; q++) {
      nw[titems[q]] += tw[t];
      ioff[titems[q] + 2]++;
    }
  }
  for (uint32_t i = 0; i < n; i++) ioff[i + 2] += ioff[i + 1];
  for (size_t t = 0; t < ntx; t++)
    for (uint64_t q = toff[t]; q < toff[t + 1]; q++) itx[ioff[titems[q] + 1]++] = (uint32_t)t;
  for (uint32_t i = 0; i < n; i++) {
    double x = nw[i] > 0 ? nw[i] : 1;
    damp[i] = cfg->pop_damp > 0 ? pow(x, -cfg->pop_damp) : 1;
    fa[i] = pow(x, -cfg->alpha);
    fb[i] = pow(x, -(1 - cfg->alpha)) * damp[i];
  }
  J->cfg = cfg; J->n = n; J->toff = toff; J->titems = titems; J->tw = tw;
  J->ioff = ioff; J->itx = itx; J->nw = nw; J->N = N; J->fa = fa; J->fb = fb; J->damp = damp;
  atomic_init(&J->next, 0);
  J->row_len = calloc(n + 1, sizeof(uint32_t));
  J->row_owner = calloc(n + 1, sizeof(uint32_t));
  J->row_start = calloc(n + 1, sizeof(uint64_t));
  if (!J->row_len || !J->row_owner || !J->row_start) goto out;
  pthread_t th[64];
  void *args[64][2];
  int started = 0;
  for (int w = 0; w < nthr; w++) {
    args[w][0] = J;
    args[w][1] = (void *)(intptr_t)w;
    if (w > 0 && pthread_create(&th[w], NULL, graph_worker, args[w]) == 0) started++;
  }
  graph_worker(args[0]);
  for (int w = 1; w <= started; w++) pthread_join(th[w], NULL);
  if (J->failed) goto out;
  g->off = malloc((n + 1) * sizeof(uint32_t));
  uint64_t e = 0;
  for (uint32_t i = 0; i < n; i++) e += J->row_len[i];
  if (e > UINT32_MAX) { rc = PERR_TOO_LARGE; goto out; }
  g->nbr = malloc((e + 1) * sizeof(uint32_t));
  g->sc = malloc((e + 1) * sizeof(float));
  if (!g->off || !g->nbr || !g->sc) goto out;
  e = 0;
  for (uint32_t i = 0; i < n; i++) {
    g->off[i] = (uint32_t)e;
    uint32_t w = J->row_owner[i];
    if (!J->row_len[i]) continue;
    memcpy(g->nbr + e, J->out[w].nbr + J->row_start[i], J->row_len[i] * sizeof(uint32_t));
    memcpy(g->sc + e, J->out[w].sc + J->row_start[i], J->row_len[i] * sizeof(float));
    e += J->row_len[i];
  }
  g->off[n] = (uint32_t)e;
  g->e = e;
  rc = PERR_OK;
out:
  if (rc != PERR_OK) { free(g->off); free(g->nbr); free(g->sc); memset(g, 0, sizeof(*g)); }
  if (J) {
    for (int w = 0; w < 64; w++) { free(J->out[w].nbr); free(J->out[w].sc); }
    free(J->row_len); free(J->row_owner); free(J->row_start);
  }
  free(J); free(nw); free(fa); free(fb); free(damp); free(ioff); free(itx);
  return rc;
}

/* Customer transactions: each customer's distinct items, most recent max_history kept,
 * weighted by the decay weight of the customer's newest basket. */
static int customer_tx(const recs_builder_t *b, uint32_t n, const float *bw, uint64_t **toff,
                       uint32_t **titems, float **tw, size_t *ntx) {
  uint32_t nc = recs_interner_count(b->customers);
  size_t nb = b->bts.n;
  uint64_t *coff = calloc(nc + 2, sizeof(uint64_t));
  uint32_t *cb = malloc((nb + 1) * sizeof(uint32_t)), *mark = malloc((n + 1) * sizeof(uint32_t));
  uint64_t *o = malloc((nc + 1) * sizeof(uint64_t));
  VEC(uint32_t) it = {0};
  float *w = malloc((nc + 1) * sizeof(float));
  int rc = PERR_INTERNAL;
  if (!coff || !cb || !mark || !o || !w) goto out;
  memset(mark, 0xff, (n + 1) * sizeof(uint32_t));
  for (size_t k = 0; k < nb; k++)
    if (b->bcust.v[k] != RECS_NO_ITEM) coff[b->bcust.v[k] + 2]++;
  for (uint32_t c = 0; c < nc; c++) coff[c + 2] += coff[c + 1];
  for (size_t k = 0; k < nb; k++)
    if (b->bcust.v[k] != RECS_NO_ITEM) cb[coff[b->bcust.v[k] + 1]++] = (uint32_t)k;
  o[0] = 0;
  for (uint32_t c = 0; c < nc; c++) {
    float wc = 0;
    uint32_t kept = 0;
    /* newest basket first: baskets are expected in time order, so walk them backwards */
    for (uint64_t p = coff[c + 1]; p-- > coff[c];) {
      uint32_t k = cb[p];
      if (bw[k] > wc) wc = bw[k];
      for (uint64_t q = b->boff.v[k]; q < b->boff.v[k + 1]; q++) {
        uint32_t j = b->bitems.v[q];
        if (mark[j] == c) continue;
        if (b->cfg.max_history && kept >= b->cfg.max_history) break;
        mark[j] = c;
        kept++;
        if (!VEC_PUSH(it, j)) goto out;
      }
    }
    if (it.n > o[c] + 1) qsort(it.v + o[c], it.n - o[c], sizeof(uint32_t), cmp_u32);
    o[c + 1] = it.n;
    w[c] = wc;
  }
  *toff = o; *titems = it.v; *tw = w; *ntx = nc;
  o = NULL; it.v = NULL; w = NULL;
  rc = PERR_OK;
out:
  free(coff); free(cb); free(mark); free(o); free(it.v); free(w);
  return rc;
}

typedef struct { uint32_t id; double s; } rank_t;
static int cmp_rank(const void *a, const void *b) {
  const rank_t *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

int recs_builder_build(recs_builder_t *b, recs_snapshot_t **out, perr_info_t *e) {
  *out = NULL;
  const recs_config_t *cf = &b->cfg;
  uint32_t n = recs_interner_count(b->items);
  size_t nb = b->bts.n;
  int rc = PERR_INTERNAL;
  graph_out_t g[2] = {{0}};
  float *bw = malloc((nb + 1) * sizeof(float));
  uint32_t *pop = calloc(n + 1, sizeof(uint32_t)), *recent = calloc(n + 1, sizeof(uint32_t));
  rank_t *rk = malloc((n + 1) * sizeof(rank_t));
  uint64_t *ctoff = NULL;
  uint32_t *ctitems = NULL;
  float *ctw = NULL;
  size_t nct = 0;
  recs_snapshot_t *s = NULL;
  if (!bw || !pop || !recent || !rk) goto out;
  int64_t tmax = INT64_MIN, tmin = INT64_MAX;
  for (size_t k = 0; k < nb; k++) {
    if (b->bts.v[k] > tmax) tmax = b->bts.v[k];
    if (b->bts.v[k] < tmin) tmin = b->bts.v[k];
  }
  if (nb == 0) tmax = tmin = 0;
  double hl = cf->half_life_days * 86400.0, win = cf->trend_days * 86400.0;
  for (size_t k = 0; k < nb; k++) {
    bw[k] = hl > 0 ? (float)exp2(-(double)(tmax - b->bts.v[k]) / hl) : 1.0f;
    int rec = win > 0 && (double)(tmax - b->bts.v[k]) < win;
    for (uint64_t q = b->boff.v[k]; q < b->boff.v[k + 1]; q++) {
      pop[b->bitems.v[q]]++;
      recent[b->bitems.v[q]] += rec;
    }
  }
  recs_model_t used = recs_model_resolve(cf, n);
  if (used == RECS_MODEL_COOC) rc = recs_cooc_graph(cf, n, b->boff.v, b->bitems.v, bw, nb, &g[0]);
  else rc = recs_ease_graph(cf, used, n, b->boff.v, b->bitems.v, bw, nb, &g[0]);
  if (rc) goto out;
  if (cf->customer_graph) {
    rc = customer_tx(b, n, bw, &ctoff, &ctitems, &ctw, &nct);
    if (!rc) rc = recs_cooc_graph(cf, n, ctoff, ctitems, ctw, nct, &g[1]);
    if (rc) goto out;
  }
  rc = PERR_INTERNAL;
  /* trending: recent count minus the count expected from the item's overall rate */
  double share = (tmax > tmin && win > 0) ? win / (double)(tmax - tmin) : 1;
  if (share > 1) share = 1;
  uint32_t ntr = 0;
  for (uint32_t i = 0; i < n; i++) {
    double ex = pop[i] * share;
    if (recent[i] >= 2 && recent[i] > ex) rk[ntr++] = (rank_t){i, recent[i] - ex};
  }
  qsort(rk, ntr, sizeof(rank_t), cmp_rank);
  if (ntr > 1000) ntr = 1000;
  recs_snap_hdr_t h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, RECS_SNAP_MAGIC, 8);
  h.version = RECS_SNAP_VERSION;
  h.endian = RECS_SNAP_ENDIAN;
  h.n_items = n;
  h.hash_cap = 2;
  while (h.hash_cap < 2ull * n) h.hash_cap *= 2;
  h.n_trend = ntr;
  h.has_g1 = cf->customer_graph ? 1 : 0;
  size_t sb;
  const char *bytes = recs_interner_bytes(b->items, &sb);
  h.str_bytes = sb;
  h.e[0] = g[0].e;
  h.e[1] = g[1].e;
  h.baskets = nb;
  h.customers = recs_interner_count(b->customers);
  h.built_at = tmax;
  h.cfg = (recs_snap_cfg_t){cf->sim, (uint32_t)cf->row_norm, cf->top_k, cf->min_support,
                            cf->max_basket, (uint32_t)cf->customer_graph, cf->max_history,
                            (uint32_t)cf->threads, cf->alpha, cf->shrink, cf->pop_damp,
                            cf->power, cf->half_life_days, cf->trend_days, (uint32_t)used,
                            cf->ease_max_items, cf->ease_neighbours, cf->ease_top_k, cf->ease_lambda,
                            cf->ease_blend, cf->ease_pop_damp};
  size_t len = recs_snap_layout(&h);
  s = calloc(1, sizeof(*s));
  if (!s || !(s->blob = calloc(1, len))) goto out;
  s->len = len;
  atomic_init(&s->refs, 1);
  memcpy(s->blob, &h, sizeof(h));
  recs_snap_bind(s);
  unsigned char *B = s->blob;
  memcpy(B + h.off[RS_STR_OFF], recs_interner_offsets(b->items), 4ull * (n + 1));
  memcpy(B + h.off[RS_STR], bytes, sb);
  uint32_t *hash = (uint32_t *)(B + h.off[RS_HASH]);
  memset(hash, 0xff, 4ull * h.hash_cap);
  for (uint32_t i = 0; i < n; i++) {
    size_t l;
    const char *nm = recs_interner_name(b->items, i, &l);
    uint32_t x = (uint32_t)recs_hash_bytes(nm, l) & (h.hash_cap - 1);
    while (hash[x] != RECS_NO_ITEM) x = (x + 1) & (h.hash_cap - 1);
    hash[x] = i;
  }
  memcpy(B + h.off[RS_POP], pop, 4ull * n);
  uint32_t *tr = (uint32_t *)(B + h.off[RS_TREND_RANK]);
  for (uint32_t i = 0; i < ntr; i++) tr[i] = rk[i].id;
  for (uint32_t i = 0; i < n; i++) rk[i] = (rank_t){i, pop[i]};
  qsort(rk, n, sizeof(rank_t), cmp_rank);
  uint32_t *pr = (uint32_t *)(B + h.off[RS_POP_RANK]);
  for (uint32_t i = 0; i < n; i++) pr[i] = rk[i].id;
  for (int gi = 0; gi < 1 + (int)h.has_g1; gi++) {
    int base = gi ? RS_G1_OFF : RS_G0_OFF;
    memcpy(B + h.off[base], g[gi].off, 4ull * (n + 1));
    if (g[gi].e) {
      memcpy(B + h.off[base + 1], g[gi].nbr, 4ull * g[gi].e);
      memcpy(B + h.off[base + 2], g[gi].sc, 4ull * g[gi].e);
    }
  }
  recs_snap_seal(s);
  *out = s;
  s = NULL;
  rc = PERR_OK;
out:
  if (s) { free(s->blob); free(s); }
  for (int gi = 0; gi < 2; gi++) { free(g[gi].off); free(g[gi].nbr); free(g[gi].sc); }
  free(bw); free(pop); free(recent); free(rk); free(ctoff); free(ctitems); free(ctw);
  if (rc != PERR_OK) return perr_set(e, rc, NULL, "recs model build failed");
  return PERR_OK;
}
