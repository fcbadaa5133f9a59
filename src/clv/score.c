/* score.c -- bulk scoring: P(alive), expected purchases at fixed horizons, expected spend,
 * CLV and churn band for many customers at once.
 * For each frequency x <= x_max a plan holds Chebyshev interpolants, in u = ln(alpha + T),
 * of the fresh-process quantities that make up E[Y(h)] and CLV (see predict.c): the
 * discounted sum D(x, u) and F(h_j; x, u). These are analytic in u in a strip of half-width
 * pi, so NCH terms reach ~1e-12 on the usual ranges; every interpolant is checked against
 * the exact formula at off-node points and, if worse than PLAN_TOL relative, that x falls
 * back to the exact formula (as do customers with T beyond the plan's range).
 * Invariants: a plan is immutable after clv_plan_new and owns copies of the models. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clv_internal.h"

#define NCH 24           /* Chebyshev terms per interpolant */
#define NF_MAX 4 /* 1 + CLV_MAX_HORIZONS */
_Static_assert(NF_MAX == 1 + CLV_MAX_HORIZONS, "one vector lane per function");
#define PLAN_XMAX 512    /* tabulate x = 0..PLAN_XMAX */
#define PLAN_TOL 1e-9

struct clv_plan_s {
  clv_tx_model_t m;
  clv_spend_model_t g;
  clv_value_opts_t vo;
  double L;                       /* month in model units */
  double h[CLV_MAX_HORIZONS];
  size_t nh;
  size_t nf;                      /* functions per x: 1 + nh */
  double u0, u1;                  /* u range */
  uint32_t xmax;
  uint8_t *exact;                 /* per x: 1 = use the exact formula */
  double *K;                      /* per x: ln a - ln(b + xb - 1) */
  double *coef;                   /* [x][k][NF_MAX]: term k of function f, interleaved */
};

/* f = 0: discounted CLV sum; f >= 1: F(h_{f-1}). */
static double plan_exact(const clv_plan_t *p, size_t f, uint32_t x, double aT) {
  const clv_tx_model_t *m = &p->m;
  const double xb = (double)x + (m->kind == CLV_KIND_MBGNBD);
  if (f == 0)
    return p->L > 0 ? clv__discounted(m->r + x, aT, m->a, m->b + xb, p->vo.months, p->L,
                                      p->vo.discount_month)
                    : 0.0;
  return clv__fresh(p->h[f - 1], m->r + x, aT, m->a, m->b + xb);
}

/* Clenshaw sums of all NF_MAX interleaved series at once (independent chains, so the
 * CPU overlaps them). c = the x's block [NCH][NF_MAX]. */
static void cheb_eval_all(const double *c, double y, double out[NF_MAX]) {
  double b1[NF_MAX] = {0}, b2[NF_MAX] = {0};
  const double y2 = 2 * y;
  for (int k = NCH - 1; k >= 1; k--) {
    for (int f = 0; f < NF_MAX; f++) {
      const double t = y2 * b1[f] - b2[f] + c[k * NF_MAX + f];
      b2[f] = b1[f];
      b1[f] = t;
    }
  }
  for (int f = 0; f < NF_MAX; f++) out[f] = y * b1[f] - b2[f] + c[f];
}

static void build_x(clv_plan_t *p, uint32_t x) {
  double vals[NCH], c[NCH], chk[NF_MAX];
  const double half = 0.5 * (p->u1 - p->u0), mid = 0.5 * (p->u1 + p->u0);
  double *blk = p->coef + (size_t)x * NCH * NF_MAX;
  p->exact[x] = 0;
  for (size_t f = 0; f < NF_MAX; f++) {
    if (f >= p->nf) {
      for (int k = 0; k < NCH; k++) blk[k * NF_MAX + f] = 0.0;
      continue;
    }
    for (int j = 0; j < NCH; j++) {
      const double th = M_PI * (j + 0.5) / NCH;
      vals[j] = plan_exact(p, f, x, exp(mid + half * cos(th)));
    }
    for (int k = 0; k < NCH; k++) {
      double s = 0;
      for (int j = 0; j < NCH; j++) s += vals[j] * cos(M_PI * k * (j + 0.5) / NCH);
      c[k] = (k == 0 ? 1.0 : 2.0) * s / NCH;
      blk[k * NF_MAX + f] = c[k];
    }
  }
  /* verify between the nodes and at both ends */
  static const double probe[] = {-1.0, -0.9993, -0.731, -0.2718, 0.0123, 0.5, 0.87, 1.0};
  for (size_t q = 0; q < sizeof probe / sizeof probe[0]; q++) {
    cheb_eval_all(blk, probe[q], chk);
    for (size_t f = 0; f < p->nf; f++) {
      const double ex = plan_exact(p, f, x, exp(mid + half * probe[q]));
      if (!(fabs(chk[f] - ex) <= PLAN_TOL * fabs(ex) + 1e-300)) {
        p->exact[x] = 1;
        return;
      }
    }
  }
}

typedef struct {
  clv_plan_t *p;
} build_ctx_t;

static void build_slice(void *v, unsigned ti, size_t lo, size_t hi) {
  build_ctx_t *b = v;
  (void)ti;
  for (size_t x = lo; x < hi; x++) build_x(b->p, (uint32_t)x);
}

clv_plan_t *clv_plan_new(const clv_tx_model_t *m, const clv_spend_model_t *g,
                         const clv_value_opts_t *o, const double *horizons,
                         size_t nhorizons, double T_max, uint32_t x_max) {
  if (!clv__tx_ok(m) || m->kind == CLV_KIND_PNBD || nhorizons > CLV_MAX_HORIZONS ||
      (nhorizons && !horizons) || !(T_max >= 0) || !isfinite(T_max))
    return NULL;
  clv_plan_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->m = *m;
  if (g) p->g = *g;
  p->vo = o ? *o : clv_value_opts_default();
  p->L = clv__month_units(m, &p->vo);
  p->nh = nhorizons;
  for (size_t j = 0; j < nhorizons; j++) {
    if (!(horizons[j] >= 0) || !isfinite(horizons[j])) {
      free(p);
      return NULL;
    }
    p->h[j] = horizons[j];
  }
  p->nf = 1 + nhorizons;
  p->u0 = log(m->alpha);
  p->u1 = log(m->alpha + (T_max > 0 ? T_max : 1.0));
  p->xmax = x_max < PLAN_XMAX ? x_max : PLAN_XMAX;
  p->exact = calloc((size_t)p->xmax + 1, 1);
  p->K = calloc((size_t)p->xmax + 1, sizeof *p->K);
  p->coef = malloc(((size_t)p->xmax + 1) * NF_MAX * NCH * sizeof *p->coef);
  if (!p->exact || !p->K || !p->coef) {
    clv_plan_free(p);
    return NULL;
  }
  build_ctx_t b = {p};
  clv_parallel(2, (size_t)p->xmax + 1, 8, build_slice, &b);
  for (uint32_t x = 0; x <= p->xmax; x++) {
    const double xb = (double)x + (m->kind == CLV_KIND_MBGNBD);
    p->K[x] = xb > 0 ? log(m->a) - log(m->b + xb - 1) : 0.0;
  }
  return p;
}

void clv_plan_free(clv_plan_t *p) {
  if (!p) return;
  free(p->exact);
  free(p->K);
  free(p->coef);
  free(p);
}


/* Scores one customer; when pre is non-NULL the interpolated values come from it. */
static void finish_one(const clv_plan_t *p, const clv_summary_t *c, clv_score_t *o,
                       double pa, const double *vals) {
  o->p_alive = pa;
  for (size_t j = 0; j < CLV_MAX_HORIZONS; j++)
    o->expected[j] = j < p->nh && vals[1 + j] > 0 ? pa * vals[1 + j] : 0.0;
  o->spend = clv_expected_spend(&p->g, c->x, c->mean_spend);
  const double v = pa * o->spend * vals[0];
  o->clv = isfinite(v) && v > 0 ? v : 0.0;
  o->band = (uint8_t)clv_churn_band(pa);
}

static void score_exact(const clv_plan_t *p, const clv_summary_t *c, clv_score_t *o) {
  double vals[NF_MAX] = {0};
  const double T = c->T, tx = c->x ? c->t_x : 0.0;
  memset(o, 0, sizeof *o);
  if (!(T >= 0) || !(tx >= 0) || !(tx <= T) || !isfinite(T)) {
    o->band = CLV_BAND_CRITICAL; /* invalid row: all zero */
    return;
  }
  const double aT = p->m.alpha + T;
  for (size_t f = 0; f < p->nf; f++) vals[f] = plan_exact(p, f, c->x, aT);
  finish_one(p, c, o, clv_p_alive(&p->m, c->x, tx, T), vals);
}

/* 1 if customer c can use the tables; fills its u. */
static int tabulated(const clv_plan_t *p, const clv_summary_t *c, double *u) {
  const double T = c->T, tx = c->x ? c->t_x : 0.0;
  if (c->x > p->xmax || p->exact[c->x] || !(T >= 0) || !(tx >= 0) || !(tx <= T)) return 0;
  *u = log(p->m.alpha + T);
  return *u <= p->u1;
}

#define BLK 2
typedef double v2d __attribute__((vector_size(2 * sizeof(double)))); /* SSE2 width */

static inline v2d ld2(const double *p) {
  v2d v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* BLK = 2 interleaved Clenshaw recurrences; each customer's NF_MAX = 4 functions are two
 * 2-lane vectors. Locals (not arrays) so the state stays in registers. */
static void clenshaw_blk(const double *const cf[BLK], const double y[BLK],
                         double res[BLK][NF_MAX]) {
  const v2d z = {0, 0};
  v2d a1l = z, a1h = z, a2l = z, a2h = z, b1l = z, b1h = z, b2l = z, b2h = z;
  const v2d ya = {y[0], y[0]}, yb = {y[1], y[1]};
  const v2d y2a = ya + ya, y2b = yb + yb;
  const double *ca = cf[0], *cb = cf[1];
  for (int k = NCH - 1; k >= 1; k--) {
    const v2d tal = y2a * a1l - a2l + ld2(ca + k * NF_MAX);
    const v2d tah = y2a * a1h - a2h + ld2(ca + k * NF_MAX + 2);
    const v2d tbl = y2b * b1l - b2l + ld2(cb + k * NF_MAX);
    const v2d tbh = y2b * b1h - b2h + ld2(cb + k * NF_MAX + 2);
    a2l = a1l; a1l = tal; a2h = a1h; a1h = tah;
    b2l = b1l; b1l = tbl; b2h = b1h; b1h = tbh;
  }
  const v2d ral = ya * a1l - a2l + ld2(ca), rah = ya * a1h - a2h + ld2(ca + 2);
  const v2d rbl = yb * b1l - b2l + ld2(cb), rbh = yb * b1h - b2h + ld2(cb + 2);
  memcpy(&res[0][0], &ral, sizeof ral);
  memcpy(&res[0][2], &rah, sizeof rah);
  memcpy(&res[1][0], &rbl, sizeof rbl);
  memcpy(&res[1][2], &rbh, sizeof rbh);
}

typedef struct {
  const clv_plan_t *p;
  const clv_summary_t *s;
  clv_score_t *out;
} score_ctx_t;

/* Blocks of BLK tabulated customers run their Clenshaw recurrences interleaved: the
 * recurrence is latency-bound, so independent chains come almost for free. */
static void score_slice(void *v, unsigned ti, size_t lo, size_t hi) {
  const score_ctx_t *cx = v;
  const clv_plan_t *p = cx->p;
  const clv_tx_model_t *m = &p->m;
  const int mbg = m->kind == CLV_KIND_MBGNBD;
  size_t idx[BLK];
  double y[BLK], u[BLK];
  int nb = 0;
  (void)ti;
  for (size_t i = lo; i <= hi; i++) {
    if (i < hi) {
      double ui;
      if (!tabulated(p, &cx->s[i], &ui)) {
        score_exact(p, &cx->s[i], &cx->out[i]);
        continue;
      }
      idx[nb] = i;
      u[nb] = ui;
      y[nb] = (2.0 * ui - p->u0 - p->u1) / (p->u1 - p->u0);
      if (y[nb] < -1) y[nb] = -1;
      nb++;
      if (nb < BLK) continue;
    }
    if (nb == 0) continue;
    const double *cf[BLK];
    for (int q = 0; q < nb; q++) cf[q] = p->coef + (size_t)cx->s[idx[q]].x * NCH * NF_MAX;
    /* cppcheck-suppress uninitvar ; nb >= 1 here (nb == 0 continued above): cf[0] is set */
    for (int q = nb; q < BLK; q++) { cf[q] = cf[0]; y[q] = y[0]; }
    double res[BLK][NF_MAX];
    clenshaw_blk(cf, y, res);
    for (int q = 0; q < nb; q++) {
      const clv_summary_t *c = &cx->s[idx[q]];
      const double *vals = res[q];
      const double xb = (double)c->x + mbg;
      const double pa =
          xb > 0 ? clv_sigmoid(-(p->K[c->x] + (m->r + c->x) *
                                                  (u[q] - log(m->alpha + (c->x ? c->t_x : 0)))))
                 : 1.0;
      finish_one(p, c, &cx->out[idx[q]], pa, vals);
    }
    nb = 0;
  }
}

int clv_score_many(const clv_plan_t *p, const clv_summary_t *s, size_t n, unsigned threads,
                   clv_score_t *out) {
  if (!p || (n && (!s || !out))) return CLV_INVALID_INPUT;
  score_ctx_t c = {p, s, out};
  clv_parallel(threads ? threads : 1, n, 4096, score_slice, &c);
  return CLV_OK;
}
