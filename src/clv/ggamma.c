/* ggamma.c -- maximum-likelihood fit of the Gamma-Gamma spend model (Fader & Hardie,
 * note 025) on repeat customers (x > 0, m_x > 0), grouped by (x, m_x).
 * Density of the mean spend m_x of x transactions:
 *   f = G(px+q) / (G(px) G(q)) * gamma^q * x^(px) * m_x^(px-1) / (gamma + x m_x)^(px+q)
 * Fitted in log(p, q, gamma) with the analytic gradient and NLopt L-BFGS.
 * Invariants: the model is always fully written; no NaN escapes; parameters at the bounds
 * (e.g. spend without variation sends p and q to infinity) give CLV_NOT_CONVERGED. */
#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clv_internal.h"

#define LOG_LO (-16.0)
#define LOG_HI (16.0)

typedef struct {
  const clv_rows_t *rows;
  double *lnm_w;  /* per x group: sum of w ln m_x */
  unsigned threads;
  double W;
  double par[3];
  double part[16][4]; /* per slice: ll, d/dp, d/dq, d/dgamma row sums */
  unsigned evals;
} gobj_t;

/* Row-dependent part: -(px+q) ln(gamma + x m_x) and its derivatives. */
static void gslice(void *vctx, unsigned ti, size_t lo, size_t hi) {
  gobj_t *o = vctx;
  const clv_rows_t *R = o->rows;
  const double p = o->par[0], q = o->par[1], gam = o->par[2];
  double ll = 0, dp = 0, dq = 0, dg = 0;
  for (size_t i = lo; i < hi; i++) {
    const double x = R->xs[R->grp[i]], w = R->w[i];
    const double d = gam + x * R->tx[i];
    const double ld = log(d);
    const double c = p * x + q;
    ll -= w * c * ld;
    dp -= w * x * ld;
    dq -= w * ld;
    dg -= w * c / d;
  }
  o->part[ti][0] = ll;
  o->part[ti][1] = dp;
  o->part[ti][2] = dq;
  o->part[ti][3] = dg;
}

static double geval(gobj_t *o, double g[3]) {
  const double p = o->par[0], q = o->par[1], gam = o->par[2];
  unsigned th = o->threads ? o->threads : 1;
  if (th > 16) th = 16;
  memset(o->part, 0, sizeof o->part);
  clv_parallel(th, o->rows->n, 4096, gslice, o);
  double ll = 0, dp = 0, dq = 0, dg = 0;
  for (unsigned i = 0; i < 16; i++) {
    ll += o->part[i][0];
    dp += o->part[i][1];
    dq += o->part[i][2];
    dg += o->part[i][3];
  }
  const double lgq = clv_lgamma(q), psq = clv_digamma(q), lgam = log(gam);
  for (size_t k = 0; k < o->rows->ngroups; k++) {
    const double x = o->rows->xs[k], w = o->rows->xw[k], lx = log(x);
    const double px = p * x, c = px + q;
    const double psc = clv_digamma(c), pspx = clv_digamma(px);
    ll += w * (clv_lgamma(c) - clv_lgamma(px) - lgq + q * lgam + px * lx) +
          (px - 1.0) * o->lnm_w[k];
    dp += w * x * (psc - pspx + lx) + x * o->lnm_w[k];
    dq += w * (psc - psq + lgam);
    dg += w * q / gam;
  }
  if (g) {
    g[0] = dp;
    g[1] = dq;
    g[2] = dg;
  }
  o->evals++;
  return ll;
}

static double gobj(unsigned n, const double *th, double *grad, void *data) {
  gobj_t *o = data;
  (void)n;
  for (int k = 0; k < 3; k++) o->par[k] = exp(th[k]);
  double g[3];
  double ll = geval(o, g);
  if (!isfinite(ll)) return HUGE_VAL;
  if (grad)
    for (int k = 0; k < 3; k++) grad[k] = -o->par[k] * g[k] / o->W;
  return -ll / o->W;
}

void clv_spend_model_set(clv_spend_model_t *m, double p, double q, double gamma) {
  memset(m, 0, sizeof *m);
  m->version = CLV_MODEL_VERSION;
  m->p = p;
  m->q = q;
  m->gamma = gamma;
  int ok = p > 0 && q > 0 && gamma > 0 && isfinite(p + q + gamma);
  m->status = ok ? CLV_OK : CLV_INVALID_INPUT;
  if (!ok) clv_set_reason(m->reason, "parameters must be finite and > 0");
  m->mean_spend = ok && q > 1 ? p * gamma / (q - 1) : 0.0;
}

static int gfail(clv_spend_model_t *m, int st, const char *why) {
  m->status = st;
  clv_set_reason(m->reason, why);
  m->p = m->q = m->gamma = m->ll = m->mean_spend = 0;
  return st;
}

int clv_spend_fit(const clv_summary_t *s, size_t n, const clv_fit_opts_t *opts,
                  clv_spend_model_t *m) {
  clv_fit_opts_t op = opts ? *opts : clv_fit_opts_default();
  memset(m, 0, sizeof *m);
  m->version = CLV_MODEL_VERSION;
  char why[CLV_REASON_MAX];
  size_t nrep = 0, npos = 0;
  double sum = 0, mn = HUGE_VAL, mx = 0;
  for (size_t i = 0; i < n; i++) {
    double v = s[i].mean_spend;
    if (!isfinite(v) || v < 0) {
      snprintf(why, sizeof why, "row %zu: mean_spend must be finite and >= 0", i);
      return gfail(m, CLV_INVALID_INPUT, why);
    }
    if (!s[i].x) continue;
    nrep++;
    if (v > 0) {
      npos++;
      sum += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
  }
  m->n_customers = npos;
  if (nrep == 0) return gfail(m, CLV_INSUFFICIENT_DATA, "no repeat buyers (every x = 0)");
  if (npos == 0) return gfail(m, CLV_INSUFFICIENT_DATA, "no repeat buyer with spend > 0");
  if (npos < op.min_repeat) {
    snprintf(why, sizeof why, "only %zu repeat buyers with spend > 0 (need at least %zu)",
             npos, op.min_repeat);
    return gfail(m, CLV_INSUFFICIENT_DATA, why);
  }
  if (mx <= mn * (1 + 1e-12))
    return gfail(m, CLV_INSUFFICIENT_DATA, "spend does not vary between customers");

  clv_rows_t rows;
  if (clv_rows_build(&rows, s, n, 1) != CLV_OK) return gfail(m, CLV_NOMEM, "out of memory");
  m->n_distinct = rows.n;
  gobj_t o;
  memset(&o, 0, sizeof o);
  o.rows = &rows;
  o.threads = op.threads;
  o.W = (double)npos;
  o.lnm_w = calloc(rows.ngroups ? rows.ngroups : 1, sizeof *o.lnm_w);
  if (!o.lnm_w) {
    clv_rows_free(&rows);
    return gfail(m, CLV_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < rows.n; i++) o.lnm_w[rows.grp[i]] += rows.w[i] * log(rows.tx[i]);
  m->work_bytes = (rows.peak_bytes > rows.bytes ? rows.peak_bytes : rows.bytes) +
                  rows.ngroups * sizeof(double);
  /* start: p = 1, q = 2, gamma = mean spend (so the prior mean p*gamma/(q-1) matches) */
  double th[3] = {0.0, log(2.0), log(sum / (double)npos)}, fmin = 0;
  nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, 3);
  int nrc = NLOPT_OUT_OF_MEMORY;
  if (opt) {
    double lo[3] = {LOG_LO, LOG_LO, LOG_LO}, hi[3] = {LOG_HI, LOG_HI, LOG_HI};
    nlopt_set_lower_bounds(opt, lo);
    nlopt_set_upper_bounds(opt, hi);
    nlopt_set_min_objective(opt, gobj, &o);
    nlopt_set_xtol_rel(opt, op.xtol_rel);
    nlopt_set_ftol_rel(opt, 1e-15);
    nlopt_set_maxeval(opt, (int)op.max_eval);
    nrc = nlopt_optimize(opt, th, &fmin);
    nlopt_destroy(opt);
  }
  for (int k = 0; k < 3; k++) o.par[k] = exp(th[k]);
  double ll = geval(&o, NULL);
  m->iterations = o.evals;
  free(o.lnm_w);
  clv_rows_free(&rows);
  if (nrc < 0 && nrc != NLOPT_ROUNDOFF_LIMITED) {
    snprintf(why, sizeof why, "optimiser failed (nlopt code %d)", nrc);
    return gfail(m, nrc == NLOPT_OUT_OF_MEMORY ? CLV_NOMEM : CLV_NOT_CONVERGED, why);
  }
  if (!isfinite(ll)) return gfail(m, CLV_NOT_CONVERGED, "log-likelihood is not finite");
  static const char *const names[3] = {"p", "q", "gamma"};
  for (int k = 0; k < 3; k++)
    if (!isfinite(th[k]) || th[k] <= LOG_LO + 0.5 || th[k] >= LOG_HI - 0.5) {
      snprintf(why, sizeof why,
               "parameter %s ran to its bound (%g): the data do not identify the model",
               names[k], o.par[k]);
      return gfail(m, CLV_NOT_CONVERGED, why);
    }
  m->p = o.par[0];
  m->q = o.par[1];
  m->gamma = o.par[2];
  m->ll = ll;
  m->mean_spend = m->q > 1 ? m->p * m->gamma / (m->q - 1) : 0.0;
  m->status = CLV_OK;
  m->reason[0] = '\0';
  return CLV_OK;
}
