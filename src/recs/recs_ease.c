/* recs_ease.c -- the EASE basket graph (Steck 2019, "Embarrassingly Shallow Autoencoders for
 * Sparse Data", WWW'19) and its neighbourhood-restricted approximation, built from the same
 * weighted transactions as the co-occurrence graph and served through the same top-K rows.
 *   Dense: G_ij = sum over transactions holding i and j of their weight; P = (G + lambda I)^-1
 *   by Cholesky (LAPACKE dpotrf + dpotri, in place: 8 n^2 bytes); B = I - P diag(1/diag P),
 *   so B_ij = -P_ij / P_jj off the diagonal and 0 on it. A cart x scores item j by
 *   sum_i x_i B_ij: item i's served row is {j: B_ij}, its ease_top_k positive entries, best first.
 *   Sparse: column i of B restricted to i's ease_neighbours most cosine-similar co-purchased
 *   items N(i) solves the ridge regression min ||X_i - X_N b||^2 + lambda ||b||^2, i.e.
 *   b = (G_NN + lambda I)^-1 G_Ni (LAPACKE dposv, one k x k system per item); that is EASE's
 *   closed form on the columns N(i) + {i} (block inversion) and the feature selection of fsSLIM
 *   (Ning & Karypis, "SLIM: Sparse Linear Methods for Top-N Recommender Systems", ICDM 2011,
 *   section 4.3) with an L2 penalty only. The (source, target, weight) triples are then
 *   regrouped by source item into rows as above. G_NN and G_Ni are exact: looked up in the
 *   full co-count rows (memory: every co-purchased pair, 8 bytes each, during the build).
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
#define RECS_EASE_REPURCHASE 0.08
#define RECS_EASE_HISTORY 0.0
#define RECS_EASE_CYCLE 0.03
/* The incremental delta adds cosine-scale pair scores (recs_delta.c); EASE weights are ~10x
 * smaller, so at weight 1 the delta swamps the model (validation NDCG@10 0.2669 -> 0.1488 with
 * the last 30 training days in the delta; 0.1 gives 0.2696). */
#define RECS_EASE_DELTA 0.1

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
  p->cycle_weight = RECS_EASE_CYCLE;
  p->delta_weight = RECS_EASE_DELTA;
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
    damp[i] = cfg->ease_pop_damp > 0 ? pow(*d > 0 ? *d : 1, -cfg->ease_pop_damp) : 1;
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
  uint32_t K = recs_ease_rows(cfg) && recs_ease_rows(cfg) < n ? recs_ease_rows(cfg) : n;
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

/* ---- sparse: one ridge solve per item over its candidate neighbours ----
 * G's off-diagonal entries come from the full co-count rows (every co-purchased pair, each row
 * sorted by id), the diagonal from the weighted item counts: exact, and no transaction is
 * walked per item (popular neighbours would make that quadratic in their sales). */
typedef struct sparse_job_s {
  const recs_config_t *cfg;
  uint32_t n, kmax;
  graph_out_t full;                           /* all co-counts, rows sorted by id */
  const double *diag;                         /* weighted baskets holding the item */
  const uint32_t *cand_off, *cand;            /* candidates per item, sorted by id */
  float *wout;                                /* the solved weights, aligned with cand */
  atomic_uint next;
  atomic_int failed;
} sparse_job_t;

/* c_ab from a's full row (sorted by id); 0 when a and b were never bought together. */
static double cocount(const graph_out_t *f, uint32_t a, uint32_t b) {
  uint32_t lo = f->off[a], hi = f->off[a + 1];
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (f->nbr[mid] < b) lo = mid + 1;
    else hi = mid;
  }
  return lo < f->off[a + 1] && f->nbr[lo] == b ? f->sc[lo] : 0;
}

static void *sparse_worker(void *arg) {
  sparse_job_t *J = arg;
  uint32_t n = J->n, m0 = J->kmax;
  int32_t *pos = malloc(((size_t)n + 1) * sizeof(int32_t));
  double *M = malloc(((size_t)m0 * m0 + 1) * sizeof(double)), *r = malloc((m0 + 1) * sizeof(double));
  if (!pos || !M || !r) J->failed = 1;
  else memset(pos, 0xff, ((size_t)n + 1) * sizeof(int32_t));
  const graph_out_t *F = &J->full;
  for (;;) {
    uint32_t i = atomic_fetch_add(&J->next, 1);
    if (J->failed || i >= n) break;
    const uint32_t *nb = J->cand + J->cand_off[i];
    uint32_t m = J->cand_off[i + 1] - J->cand_off[i];
    if (m == 0) continue;
    for (uint32_t k = 0; k < m; k++) pos[nb[k]] = (int32_t)k;
    memset(M, 0, (size_t)m * m * sizeof(double));
    for (uint32_t ka = 0; ka < m; ka++) { /* G_NN, row-major lower = column-major upper */
      uint32_t a = nb[ka], deg = F->off[a + 1] - F->off[a];
      double *row = M + (size_t)ka * m;
      if (deg <= 8u * ka) { /* short row: walk it */
        for (uint32_t p = F->off[a]; p < F->off[a + 1]; p++) {
          int32_t kb = pos[F->nbr[p]];
          if (kb >= 0 && (uint32_t)kb < ka) row[kb] = F->sc[p];
        }
      } else { /* long row (a popular item): look the few candidates up */
        for (uint32_t kb = 0; kb < ka; kb++) row[kb] = cocount(F, a, nb[kb]);
      }
      row[ka] = J->diag[a] + J->cfg->ease_lambda;
      r[ka] = cocount(F, a, i); /* G_Ni */
    }
    for (uint32_t k = 0; k < m; k++) pos[nb[k]] = -1;
    if (LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', (lapack_int)m, 1, M, (lapack_int)m, r,
                      (lapack_int)m) != 0) {
      J->failed = 1;
      break;
    }
    double damp = J->cfg->ease_pop_damp > 0 ? pow(J->diag[i] > 0 ? J->diag[i] : 1, -J->cfg->ease_pop_damp) : 1;
    for (uint32_t k = 0; k < m; k++) J->wout[J->cand_off[i] + k] = (float)(r[k] * damp);
  }
  free(pos); free(M); free(r);
  return NULL;
}

static int cmp_id(const void *a, const void *b) {
  const recs_cand_t *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

static int ease_sparse(const recs_config_t *cfg, uint32_t n, const uint64_t *toff,
                       const uint32_t *titems, const float *tw, size_t ntx, graph_out_t *g) {
  recs_config_t cc = *cfg; /* every co-count: COOC, all neighbours, nothing scaled */
  cc.sim = RECS_SIM_COOC; cc.shrink = 0; cc.pop_damp = 0; cc.power = 1; cc.row_norm = 0;
  cc.min_support = 1; cc.top_k = 0;
  sparse_job_t J;
  memset(&J, 0, sizeof(J));
  J.cfg = cfg; J.n = n; J.kmax = cfg->ease_neighbours ? cfg->ease_neighbours : 50;
  atomic_init(&J.next, 0);
  atomic_init(&J.failed, 0);
  double *diag = calloc((size_t)n + 1, sizeof(double));
  uint32_t *coff = malloc(((size_t)n + 1) * sizeof(uint32_t)), *cand = NULL;
  uint32_t *src = NULL, *dst = NULL;
  recs_cand_t *buf = NULL, *heap = malloc(((size_t)J.kmax + 1) * sizeof(recs_cand_t));
  int rc = recs_cooc_graph(&cc, n, toff, titems, tw, ntx, &J.full);
  if (rc) { free(diag); free(coff); free(heap); return rc; }
  rc = PERR_INTERNAL;
  size_t cap = (size_t)n * J.kmax;
  cand = malloc((cap + 1) * sizeof(uint32_t));
  J.wout = malloc((cap + 1) * sizeof(float));
  uint32_t maxdeg = 0;
  for (uint32_t i = 0; i < n; i++)
    if (J.full.off[i + 1] - J.full.off[i] > maxdeg) maxdeg = J.full.off[i + 1] - J.full.off[i];
  buf = malloc(((size_t)maxdeg + 1) * sizeof(recs_cand_t));
  if (!diag || !coff || !cand || !J.wout || !buf || !heap) goto out;
  for (size_t t = 0; t < ntx; t++)
    for (uint64_t q = toff[t]; q < toff[t + 1]; q++) diag[titems[q]] += tw[t];
  /* candidates: the kmax best by cosine c_ij / sqrt(n_i n_j); then rows sorted by id */
  uint32_t nc = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t a = J.full.off[i], z = J.full.off[i + 1];
    size_t nh = 0;
    for (uint32_t p = a; p < z; p++) {
      uint32_t j = J.full.nbr[p];
      double cs = J.full.sc[p] / sqrt((diag[i] > 0 ? diag[i] : 1) * (diag[j] > 0 ? diag[j] : 1));
      nh = recs_topk_push(heap, nh, J.kmax, (recs_cand_t){j, (float)cs});
    }
    qsort(heap, nh, sizeof(recs_cand_t), cmp_id);
    coff[i] = nc;
    for (size_t k = 0; k < nh; k++) cand[nc++] = heap[k].id;
    for (uint32_t p = a; p < z; p++) buf[p - a] = (recs_cand_t){J.full.nbr[p], J.full.sc[p]};
    qsort(buf, z - a, sizeof(recs_cand_t), cmp_id);
    for (uint32_t p = a; p < z; p++) { J.full.nbr[p] = buf[p - a].id; J.full.sc[p] = buf[p - a].s; }
  }
  coff[n] = nc;
  J.diag = diag; J.cand_off = coff; J.cand = cand;
  int nthr = cfg->threads < 1 ? 1 : cfg->threads > 64 ? 64 : cfg->threads, started = 0;
  pthread_t th[64];
  for (int w = 1; w < nthr; w++)
    if (pthread_create(&th[started], NULL, sparse_worker, &J) == 0) started++;
  sparse_worker(&J);
  for (int w = 0; w < started; w++) pthread_join(th[w], NULL);
  if (J.failed) goto out;
  /* triples: candidate a of item i with weight b predicts i, so it lands in a's row */
  src = malloc(((size_t)nc + 1) * sizeof(uint32_t));
  dst = malloc(((size_t)nc + 1) * sizeof(uint32_t));
  if (!src || !dst) goto out;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t p = coff[i]; p < coff[i + 1]; p++) {
      src[p] = cand[p];
      dst[p] = i;
    }
  rc = rows_from_triples(n, recs_ease_rows(cfg), src, dst, J.wout, nc, g);
out:
  free(J.full.off); free(J.full.nbr); free(J.full.sc); free(J.wout);
  free(diag); free(coff); free(cand); free(src); free(dst); free(buf); free(heap);
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
    rc = blend(g, &c, cfg->ease_blend, n, recs_ease_rows(cfg));
  free(c.off); free(c.nbr); free(c.sc);
  if (rc) { free(g->off); free(g->nbr); free(g->sc); memset(g, 0, sizeof(*g)); }
  return rc;
}
