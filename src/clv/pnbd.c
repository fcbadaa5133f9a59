/* pnbd.c -- the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; likelihood as in
 * Fader, Hardie & Lee 2005 "A note on deriving the Pareto/NBD model" and the BTYD package):
 * maximum-likelihood fit on grouped (x, t_x, T) rows, P(alive) and conditional expectations.
 * The model is stored in clv_tx_model_t with kind CLV_KIND_PNBD and (a, b) holding (s, beta).
 * Invariants: pure functions; the model struct is always fully written (status + reason);
 * parameters that run to the search bounds or a non-finite likelihood never give CLV_OK.
 *
 * Per row, with c = r+s+x, m = max(alpha, beta), d = |alpha - beta|,
 * b2 = s+1 when alpha >= beta, else r+x (the BTYD case split keeps 0 <= z < 1):
 *   L = exp(part1) (exp(part2) + exp(part3))
 *   part1 = r ln alpha + s ln beta + lnG(r+x) - lnG(r)
 *   part2 = -(r+x) ln(alpha+T) - s ln(beta+T)            (alive at T)
 *   part3 = ln s - ln c - c ln(m+t_x) + ln(F1 - F2)      (died in (t_x, T])
 *   F1 = 2F1(c, b2; c+1; d/(m+t_x)),
 *   F2 = 2F1(c, b2; c+1; d/(m+T)) ((m+t_x)/(m+T))^c
 * P(alive | x, t_x, T) = exp(part2) / (exp(part2) + exp(part3)).
 * E[Y(t) | x, t_x, T] = P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
 * (s = 1: the limit (r+x)(beta+T)/(alpha+T) ln((beta+T+t)/(beta+T))). */
#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clv_internal.h"

#define LOG_LO (-16.0)
#define LOG_HI (16.0)
/* 2F1 term budget: terms shrink like z^k, so 50,000 terms reach 1e-17 for z up to ~0.999.
 * Parameters that need more (alpha and beta orders of magnitude apart) make the likelihood
 * -inf, so the optimiser steers away instead of spending seconds on one evaluation. */
#define SERIES_MAX 50000L

/* part2 and part3 of one row (part3 = -inf when the customer cannot have died unseen). */
static void parts(double r, double al, double s, double be, double x, double t_x, double T,
                  double *p2, double *p3, int *ok) {
  *p2 = -(r + x) * log(al + T) - s * log(be + T);
  const double c = r + s + x, m = al >= be ? al : be, d = fabs(al - be);
  const double b2 = al >= be ? s + 1 : r + x;
  int ok1 = 1, ok2 = 1;
  const double F1 = clv__hyp2f1_n(c, b2, c + 1, d / (m + t_x), SERIES_MAX, &ok1);
  const double F2 = clv__hyp2f1_n(c, b2, c + 1, d / (m + T), SERIES_MAX, &ok2) *
                    exp(c * (log(m + t_x) - log(m + T)));
  if (ok && (!ok1 || !ok2)) *ok = 0;
  const double diff = F1 - F2;
  *p3 = diff > 0 ? log(s) - log(c) - c * log(m + t_x) + log(diff) : -HUGE_VAL;
}

static double log_add(double a, double b) {
  if (a == -HUGE_VAL) return b;
  if (b == -HUGE_VAL) return a;
  return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

typedef struct {
  const clv_rows_t *rows;
  double par[4];
  double *lgx;   /* lnG(r+x) - lnG(r) per x group */
  double part[16];
  int bad[16];
  unsigned threads;
  unsigned evals;
  double W;
} pobj_t;

static void slice(void *v, unsigned ti, size_t lo, size_t hi) {
  pobj_t *o = v;
  const clv_rows_t *R = o->rows;
  const double r = o->par[0], al = o->par[1], s = o->par[2], be = o->par[3];
  double acc = 0;
  int ok = 1;
  for (size_t i = lo; i < hi; i++) {
    const double x = R->xs[R->grp[i]];
    double p2, p3;
    parts(r, al, s, be, x, x > 0 ? R->tx[i] : 0.0, R->T[i], &p2, &p3, &ok);
    acc += R->w[i] * (o->lgx[R->grp[i]] + log_add(p2, p3));
  }
  o->part[ti] = acc;
  o->bad[ti] = !ok;
}

static double eval_ll(pobj_t *o) {
  const clv_rows_t *R = o->rows;
  const double r = o->par[0], al = o->par[1], s = o->par[2], be = o->par[3];
  const double lgr = clv_lgamma(r);
  double ll = 0;
  for (size_t g = 0; g < R->ngroups; g++) {
    o->lgx[g] = clv_lgamma(r + R->xs[g]) - lgr;
    ll += R->xw[g] * (r * log(al) + s * log(be));
  }
  memset(o->part, 0, sizeof o->part);
  memset(o->bad, 0, sizeof o->bad);
  clv_parallel(o->threads, R->n, 2048, slice, o);
  for (int i = 0; i < 16; i++) {
    ll += o->part[i];
    if (o->bad[i]) return -HUGE_VAL; /* a series did not converge: not a usable point */
  }
  o->evals++;
  return ll;
}

static double nlopt_obj(unsigned n, const double *th, double *grad, void *data) {
  pobj_t *o = data;
  (void)n;
  (void)grad; /* derivative-free */
  for (int k = 0; k < 4; k++) o->par[k] = exp(th[k]);
  const double ll = eval_ll(o);
  return isfinite(ll) ? -ll / o->W : HUGE_VAL;
}

static double ll_at(void *ctx, const double p[4]) {
  pobj_t *o = ctx;
  memcpy(o->par, p, sizeof o->par);
  return eval_ll(o);
}

int clv__pnbd_fit(const clv_rows_t *rows, double W, double mean_T, const clv_fit_opts_t *op,
                  clv_tx_model_t *m, char *why) {
  pobj_t o;
  memset(&o, 0, sizeof o);
  o.rows = rows;
  o.W = W;
  o.threads = op->threads ? (op->threads > 16 ? 16 : op->threads) : 1;
  o.lgx = calloc(rows->ngroups ? rows->ngroups : 1, sizeof *o.lgx);
  if (!o.lgx) {
    snprintf(why, CLV_REASON_MAX, "out of memory");
    return CLV_NOMEM;
  }
  m->work_bytes = rows->peak_bytes > rows->bytes + rows->ngroups * sizeof *o.lgx
                      ? rows->peak_bytes
                      : rows->bytes + rows->ngroups * sizeof *o.lgx;
  double th[4] = {0.0, log(mean_T), 0.0, log(mean_T)}, fmin = 0;
  nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, 4);
  int rc = NLOPT_OUT_OF_MEMORY;
  if (opt) {
    const double lo[4] = {LOG_LO, LOG_LO, LOG_LO, LOG_LO}, hi[4] = {LOG_HI, LOG_HI, LOG_HI, LOG_HI};
    nlopt_set_lower_bounds(opt, lo);
    nlopt_set_upper_bounds(opt, hi);
    nlopt_set_min_objective(opt, nlopt_obj, &o);
    nlopt_set_xtol_rel(opt, op->xtol_rel);
    nlopt_set_ftol_rel(opt, 1e-15);
    nlopt_set_maxeval(opt, (int)op->max_eval);
    nlopt_set_initial_step1(opt, 0.5);
    rc = nlopt_optimize(opt, th, &fmin);
    nlopt_destroy(opt);
  }
  for (int k = 0; k < 4; k++) o.par[k] = exp(th[k]);
  const double p[4] = {o.par[0], o.par[1], o.par[2], o.par[3]};
  const double ll = eval_ll(&o);
  m->iterations = o.evals;
  int status = CLV_OK;
  static const char *const names[4] = {"r", "alpha", "s", "beta"};
  if (rc < 0 && rc != NLOPT_ROUNDOFF_LIMITED) {
    snprintf(why, CLV_REASON_MAX, "optimiser failed (nlopt code %d)", rc);
    status = rc == NLOPT_OUT_OF_MEMORY ? CLV_NOMEM : CLV_NOT_CONVERGED;
  } else if (!isfinite(ll)) {
    snprintf(why, CLV_REASON_MAX, "log-likelihood is not finite");
    status = CLV_NOT_CONVERGED;
  } else {
    for (int k = 0; k < 4 && status == CLV_OK; k++)
      if (!isfinite(th[k]) || th[k] <= LOG_LO + 0.5 || th[k] >= LOG_HI - 0.5) {
        snprintf(why, CLV_REASON_MAX,
                 "parameter %s ran to its bound (%g): the data do not identify the model",
                 names[k], p[k]);
        status = CLV_NOT_CONVERGED;
      }
  }
  if (status == CLV_OK) {
    m->r = p[0];
    m->alpha = p[1];
    m->a = p[2];
    m->b = p[3];
    m->ll = ll;
    if (op->std_errors) clv__std_errors(ll_at, &o, p, ll, m->se);
  }
  free(o.lgx);
  return status;
}

double clv__pnbd_loglik(const clv_rows_t *rows, const double par[4]) {
  pobj_t o;
  memset(&o, 0, sizeof o);
  o.rows = rows;
  o.threads = 1;
  o.lgx = calloc(rows->ngroups ? rows->ngroups : 1, sizeof *o.lgx);
  if (!o.lgx) return -HUGE_VAL;
  const double ll = ll_at(&o, par);
  free(o.lgx);
  return ll;
}

double clv__pnbd_p_alive(const clv_tx_model_t *m, uint32_t x, double t_x, double T) {
  double p2, p3;
  parts(m->r, m->alpha, m->a, m->b, x, x ? t_x : 0.0, T, &p2, &p3, NULL);
  if (p3 == -HUGE_VAL) return 1.0;
  const double v = clv_sigmoid(p2 - p3);
  return isfinite(v) ? v : 0.0;
}

/* Expected purchases in (T, T+t] of a customer alive at T with x repeat purchases. */
double clv__pnbd_fresh(const clv_tx_model_t *m, double t, uint32_t x, double T) {
  if (!(t > 0)) return 0.0;
  const double s = m->a, bT = m->b + T, lq = log(bT) - log(bT + t);
  const double h = fabs(s - 1) < 1e-12 ? -lq : -expm1((s - 1) * lq) / (s - 1);
  const double v = (m->r + x) * bT / (m->alpha + T) * h;
  return isfinite(v) && v > 0 ? v : 0.0;
}
