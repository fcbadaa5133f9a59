/* recs_ease.c -- the EASE basket graph (Steck 2019, "Embarrassingly Shallow Autoencoders for
 * Sparse Data", WWW'19) and its neighbourhood-restricted approximation, built from the same
 * weighted transactions as the co-occurrence graph and served through the same top-K rows.
 *   Dense: G_ij = sum over transactions holding i and j of their weight; P = (G + lambda I)^-1
 *   by Cholesky (LAPACKE dpotrf + dpotri, in place: 8 n^2 bytes); B = I - P diag(1/diag P),
 *   so B_ij = -P_ij / P_jj off the diagonal and 0 on it. A cart x scores item j by
 *   sum_i x_i B_ij: item i's served row is {j: B_ij}, its top_k positive entries, best first.
 *   Sparse: column i of B restricted to i's ease_neighbours most cosine-similar co-purchased
 *   items N(i) solves the ridge regression min ||X_i - X_N b||^2 + lambda ||b||^2, i.e.
 *   b = (G_NN + lambda I)^-1 G_Ni (LAPACKE dposv, one k x k system per item); that is EASE's
 *   closed form on the columns N(i) + {i} (block inversion) and the feature selection of fsSLIM
 *   (Ning & Karypis, "SLIM: Sparse Linear Methods for Top-N Recommender Systems", ICDM 2011,
 *   section 4.3) with an L2 penalty only. The (source, target, weight) triples are then
 *   regrouped by source item into rows as above. G_NN is exact (walked from the transactions).
 * Invariants: pure function of its inputs; no globals; a failed solve (matrix not positive
 * definite, which lambda > 0 rules out) or allocation failure returns an error and no graph. */
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "recs_internal.h"

/* Serving knobs of the EASE family, chosen on the validation split (docs/BENCHMARKS.md). */
#define RECS_EASE_REPURCHASE 0.1
#define RECS_EASE_HISTORY 0.0

recs_model_t recs_model_resolve(const recs_config_t *c, uint32_t n) {
  recs_model_t m = c->model;
  if (m == RECS_MODEL_AUTO) m = n <= c->ease_max_items ? RECS_MODEL_EASE : RECS_MODEL_SPARSE_EASE;
  if (m == RECS_MODEL_EASE && n > 65535u) m = RECS_MODEL_SPARSE_EASE; /* 34 GB and more */
  if (m > RECS_MODEL_AUTO) m = RECS_MODEL_COOC;
  return m;
}

const char *recs_model_name(recs_model_t m) {
  static const char *const names[] = {"cooc", "ease", "sparse_ease", "auto"};
  return (unsigned)m <= RECS_MODEL_AUTO ? names[m] : "unknown";
}

int recs_model_parse(const char *s, recs_model_t *out) {
  for (int m = RECS_MODEL_COOC; m <= RECS_MODEL_AUTO; m++)
    if (strcmp(s, recs_model_name((recs_model_t)m)) == 0) {
      *out = (recs_model_t)m;
      return 0;
    }
  return -1;
}

void recs_params_for_model(recs_params_t *p, recs_model_t m) {
  if (m == RECS_MODEL_COOC) return;
  p->repurchase_weight = RECS_EASE_REPURCHASE;
  p->history_weight = RECS_EASE_HISTORY;
}

/* Per-source lists of (target, weight) -> rows of the top K positive weights, best first. */
static int rows_from_triples(uint32_t n, uint32_t K, const uint32_t *src, const uint32_t *dst,
                             const float *w, size_t nt, graph_out_t *g) {
  uint32_t *cnt = calloc((size_t)n + 1, sizeof(uint32_t));
  uint64_t *at = calloc((size_t)n + 1, sizeof(uint64_t));
  recs_cand_t *all = malloc((nt + 1) * sizeof(recs_cand_t));
  int rc = PERR_INTERNAL;
  memset(g, 0, sizeof(*g));
  if (!cnt || !at || !all) goto out;
  for (size_t t = 0; t < nt; t++) cnt[src[t]] += w[t] > 0;
  for (uint32_t i = 0; i < n; i++) at[i + 1] = at[i] + cnt[i];
  for (size_t t = 0; t < nt; t++)
    if (w[t] > 0) all[at[src[t]]++] = (recs_cand_t){dst[t], w[t]};
  uint64_t e = 0;
  for (uint32_t i = 0; i < n; i++) e += K && cnt[i] > K ? K : cnt[i];
  if (e > UINT32_MAX) { rc = PERR_TOO_LARGE; goto out; }
  g->off = malloc(((size_t)n + 1) * sizeof(uint32_t));
  g->nbr = malloc((e + 1) * sizeof(uint32_t));
  g->sc = malloc((e + 1) * sizeof(float));
  if (!g->off || !g->nbr || !g->sc) goto out;
  uint64_t pos = 0, start = 0;
  for (uint32_t i = 0; i < n; i++) {
    recs_cand_t *row = all + start; /* the row's candidates, reused as its heap */
    size_t nh = 0, lim = K ? K : cnt[i];
    for (uint32_t k = 0; k < cnt[i]; k++) nh = recs_topk_push(row, nh, lim, row[k]);
    recs_topk_sort(row, nh);
    g->off[i] = (uint32_t)pos;
    for (size_t k = 0; k < nh; k++) {
      g->nbr[pos] = row[k].id;
      g->sc[pos++] = row[k].s;
    }
    start += cnt[i];
  }
  g->off[n] = (uint32_t)pos;
  g->e = pos;
  rc = PERR_OK;
out:
  if (rc != PERR_OK) { free(g->off); free(g->nbr); free(g->sc); memset(g, 0, sizeof(*g)); }
  free(cnt); free(at); free(all);
  return rc;
}

static int ease_dense(const recs_config_t *cfg, uint32_t n, const uint64_t *toff,
                      const uint32_t *titems, const float *tw, size_t ntx, graph_out_t *g) {
  size_t nn = (size_t)n * n;
  double *A = calloc(nn ? nn : 1, sizeof(double)), *dg = malloc(((size_t)n + 1) * sizeof(double));
  double *damp = malloc(((size_t)n + 1) * sizeof(double));
  uint32_t *src = NULL, *dst = NULL;
  float *w = NULL;
  int rc = PERR_INTERNAL;
  if (!A || !dg || !damp) goto out;
  /* Row-major lower triangle (A[i n + j], i >= j) = column-major upper: no transposed copy. */
  for (size_t t = 0; t < ntx; t++)
    for (uint64_t q = toff[t]; q < toff[t + 1]; q++) {
      double *row = A + (size_t)titems[q] * n;
      for (uint64_t r = toff[t]; r <= q; r++) row[titems[r]] += tw[t];
    }
  for (uint32_t i = 0; i < n; i++) {
    double *d = &A[(size_t)i * n + i];
    damp[i] = cfg->pop_damp > 0 ? pow(*d > 0 ? *d : 1, -cfg->pop_damp) : 1;
    *d += cfg->ease_lambda;
  }
  if (n && (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n) != 0 ||
            LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n) != 0))
    goto out;
  for (uint32_t i = 0; i < n; i++) { /* mirror P into the upper half: rows become contiguous */
    dg[i] = A[(size_t)i * n + i];
    for (uint32_t j = 0; j < i; j++) A[(size_t)j * n + i] = A[(size_t)i * n + j];
  }
  /* B_ij = -P_ij / P_jj; keep each row's top K positive entries */
  uint32_t K = cfg->top_k && cfg->top_k < n ? cfg->top_k : n;
  size_t cap = (size_t)n * K;
  src = malloc((cap + 1) * sizeof(uint32_t));
  dst = malloc((cap + 1) * sizeof(uint32_t));
  w = malloc((cap + 1) * sizeof(float));
  recs_cand_t *heap = malloc(((size_t)K + 1) * sizeof(recs_cand_t));
  if (!src || !dst || !w || !heap) { free(heap); goto out; }
  size_t nt = 0;
  for (uint32_t i = 0; i < n; i++) {
    const double *row = A + (size_t)i * n;
    size_t nh = 0;
    for (uint32_t j = 0; j < n; j++) {
      double b = -row[j] / dg[j] * damp[j];
      if (j != i && b > 0) nh = recs_topk_push(heap, nh, K, (recs_cand_t){j, (float)b});
    }
    for (size_t k = 0; k < nh; k++) {
      src[nt] = i;
      dst[nt] = heap[k].id;
      w[nt++] = heap[k].s;
    }
  }
  free(heap);
  free(A);
  A = NULL;
  rc = rows_from_triples(n, K, src, dst, w, nt, g);
out:
  free(A); free(dg); free(damp); free(src); free(dst); free(w);
  return rc;
}

/* ---- sparse: one ridge solve per item over its candidate neighbours ---- */
typedef struct sparse_job_s {
  const recs_config_t *cfg;
  uint32_t n, kmax;
  const uint64_t *toff; const uint32_t *titems; const float *tw;
  const uint64_t *ioff; const uint32_t *itx;  /* item -> transactions holding it */
  graph_out_t cand;                           /* candidate neighbours per item */
  float *wout;                                /* kmax slots per item: b of cand row i */
  atomic_uint next;
  atomic_int failed;
} sparse_job_t;

static void *sparse_worker(void *arg) {
  sparse_job_t *J = arg;
  uint32_t n = J->n, m0 = J->kmax;
  int32_t *pos = malloc(((size_t)n + 1) * sizeof(int32_t));
  double *M = malloc(((size_t)m0 * m0 + 1) * sizeof(double)), *r = malloc((m0 + 1) * sizeof(double));
  if (!pos || !M || !r) J->failed = 1;
  else memset(pos, 0xff, ((size_t)n + 1) * sizeof(int32_t));
  for (;;) {
    uint32_t i = atomic_fetch_add(&J->next, 1);
    if (J->failed || i >= n) break;
    const uint32_t *nb = J->cand.nbr + J->cand.off[i];
    uint32_t m = J->cand.off[i + 1] - J->cand.off[i];
    if (m == 0) continue;
    for (uint32_t k = 0; k < m; k++) pos[nb[k]] = (int32_t)k;
    memset(M, 0, (size_t)m * m * sizeof(double));
    memset(r, 0, m * sizeof(double));
    for (uint32_t ka = 0; ka < m; ka++) { /* G_NN, row-major lower = column-major upper */
      double *row = M + (size_t)ka * m;
      for (uint64_t p = J->ioff[nb[ka]]; p < J->ioff[nb[ka] + 1]; p++) {
        uint32_t t = J->itx[p];
        for (uint64_t q = J->toff[t]; q < J->toff[t + 1]; q++) {
          int32_t kb = pos[J->titems[q]];
          if (kb >= 0 && (uint32_t)kb <= ka) row[kb] += J->tw[t];
        }
      }
      row[ka] += J->cfg->ease_lambda;
    }
    for (uint64_t p = J->ioff[i]; p < J->ioff[i + 1]; p++) { /* G_Ni */
      uint32_t t = J->itx[p];
      for (uint64_t q = J->toff[t]; q < J->toff[t + 1]; q++) {
        int32_t kb = pos[J->titems[q]];
        if (kb >= 0) r[kb] += J->tw[t];
      }
    }
    for (uint32_t k = 0; k < m; k++) pos[nb[k]] = -1;
    if (LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', (lapack_int)m, 1, M, (lapack_int)m, r,
                      (lapack_int)m) != 0) {
      J->failed = 1;
      break;
    }
    double ni = 0; /* weighted baskets holding i: the popularity damping of target i */
    for (uint64_t p = J->ioff[i]; p < J->ioff[i + 1]; p++) ni += J->tw[J->itx[p]];
    double damp = J->cfg->pop_damp > 0 ? pow(ni > 0 ? ni : 1, -J->cfg->pop_damp) : 1;
    for (uint32_t k = 0; k < m; k++) J->wout[(size_t)i * m0 + k] = (float)(r[k] * damp);
  }
  free(pos); free(M); free(r);
  return NULL;
}

static int ease_sparse(const recs_config_t *cfg, uint32_t n, const uint64_t *toff,
                       const uint32_t *titems, const float *tw, size_t ntx, graph_out_t *g) {
  recs_config_t cc = *cfg; /* candidates: plain cosine, the k best per item */
  cc.sim = RECS_SIM_COSINE; cc.alpha = 0.5; cc.shrink = 0; cc.pop_damp = 0; cc.power = 1;
  cc.row_norm = 0; cc.min_support = 1;
  cc.top_k = cfg->ease_neighbours ? cfg->ease_neighbours : 100;
  sparse_job_t J;
  memset(&J, 0, sizeof(J));
  J.cfg = cfg; J.n = n; J.kmax = cc.top_k; J.toff = toff; J.titems = titems; J.tw = tw;
  atomic_init(&J.next, 0);
  atomic_init(&J.failed, 0);
  uint64_t *ioff = calloc((size_t)n + 2, sizeof(uint64_t));
  uint32_t *itx = malloc((toff[ntx] + 1) * sizeof(uint32_t)), *src = NULL, *dst = NULL;
  int rc = recs_cooc_graph(&cc, n, toff, titems, tw, ntx, &J.cand);
  if (rc) { free(ioff); free(itx); return rc; }
  rc = PERR_INTERNAL;
  size_t cap = (size_t)n * J.kmax;
  J.wout = malloc((cap + 1) * sizeof(float));
  if (!ioff || !itx || !J.wout) goto out;
  for (size_t t = 0; t < ntx; t++)
    for (uint64_t q = toff[t]; q < toff[t + 1]; q++) ioff[titems[q] + 2]++;
  for (uint32_t i = 0; i < n; i++) ioff[i + 2] += ioff[i + 1];
  for (size_t t = 0; t < ntx; t++)
    for (uint64_t q = toff[t]; q < toff[t + 1]; q++) itx[ioff[titems[q] + 1]++] = (uint32_t)t;
  J.ioff = ioff; J.itx = itx;
  int nthr = cfg->threads < 1 ? 1 : cfg->threads > 64 ? 64 : cfg->threads, started = 0;
  pthread_t th[64];
  for (int w = 1; w < nthr; w++)
    if (pthread_create(&th[started], NULL, sparse_worker, &J) == 0) started++;
  sparse_worker(&J);
  for (int w = 0; w < started; w++) pthread_join(th[w], NULL);
  if (J.failed) goto out;
  /* triples: candidate a of item i with weight b predicts i, so it lands in a's row */
  size_t nt = J.cand.e;
  src = malloc((nt + 1) * sizeof(uint32_t));
  dst = malloc((nt + 1) * sizeof(uint32_t));
  float *w = malloc((nt + 1) * sizeof(float));
  if (!src || !dst || !w) { free(w); goto out; }
  size_t k = 0;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t p = J.cand.off[i]; p < J.cand.off[i + 1]; p++) {
      src[k] = J.cand.nbr[p];
      dst[k] = i;
      w[k++] = J.wout[(size_t)i * J.kmax + (p - J.cand.off[i])];
    }
  rc = rows_from_triples(n, cfg->top_k, src, dst, w, k, g);
  free(w);
out:
  free(J.cand.off); free(J.cand.nbr); free(J.cand.sc); free(J.wout);
  free(ioff); free(itx); free(src); free(dst);
  return rc;
}

/* g's rows + beta x c's rows, top K of the union per row (K = 0: all), best first. */
static int blend(graph_out_t *g, const graph_out_t *c, double beta, uint32_t n, uint32_t K) {
  float *acc = calloc((size_t)n + 1, sizeof(float));
  uint32_t *touched = malloc(((size_t)n + 1) * sizeof(uint32_t));
  uint64_t cap = g->e + c->e;
  uint32_t *src = malloc((cap + 1) * sizeof(uint32_t)), *dst = malloc((cap + 1) * sizeof(uint32_t));
  float *w = malloc((cap + 1) * sizeof(float));
  int rc = PERR_INTERNAL;
  if (!acc || !touched || !src || !dst || !w) goto out;
  size_t nt = 0;
  for (uint32_t i = 0; i < n; i++) {
    size_t m = 0;
    for (int which = 0; which < 2; which++) {
      const graph_out_t *x = which ? c : g;
      float f = which ? (float)beta : 1.0f;
      for (uint32_t p = x->off[i]; p < x->off[i + 1]; p++) {
        if (acc[x->nbr[p]] == 0) touched[m++] = x->nbr[p];
        acc[x->nbr[p]] += f * x->sc[p];
      }
    }
    for (size_t k = 0; k < m; k++) {
      src[nt] = i;
      dst[nt] = touched[k];
      w[nt++] = acc[touched[k]];
      acc[touched[k]] = 0;
    }
  }
  graph_out_t merged;
  rc = rows_from_triples(n, K, src, dst, w, nt, &merged);
  if (rc == PERR_OK) {
    free(g->off); free(g->nbr); free(g->sc);
    *g = merged;
  }
out:
  free(acc); free(touched); free(src); free(dst); free(w);
  return rc;
}

int recs_ease_graph(const recs_config_t *cfg, recs_model_t model, uint32_t n,
                    const uint64_t *toff, const uint32_t *titems, const float *tw, size_t ntx,
                    graph_out_t *g) {
  memset(g, 0, sizeof(*g));
  if (!(cfg->ease_lambda > 0)) return PERR_INVALID_PARAMS;
  int rc = model == RECS_MODEL_EASE ? ease_dense(cfg, n, toff, titems, tw, ntx, g)
                                    : ease_sparse(cfg, n, toff, titems, tw, ntx, g);
  if (rc || !(cfg->ease_blend > 0)) return rc;
  graph_out_t c;
  if ((rc = recs_cooc_graph(cfg, n, toff, titems, tw, ntx, &c)) == PERR_OK)
    rc = blend(g, &c, cfg->ease_blend, n, cfg->top_k);
  free(c.off); free(c.nbr); free(c.sc);
  if (rc) { free(g->off); free(g->nbr); free(g->sc); memset(g, 0, sizeof(*g)); }
  return rc;
}
