/* bgnbd.c -- maximum-likelihood fits of BG/NBD and MBG/NBD on grouped (x, t_x, T) rows.
 * Works in log-parameter space theta = log(r, alpha, a, b) with the analytic gradient,
 * minimised with NLopt's L-BFGS; the likelihood sum is split over worker threads.
 * Invariants: the model struct is always fully written (status + reason); parameters that
 * run to the search bounds, a non-finite likelihood or an NLopt failure never give CLV_OK.
 *
 * Per row, with xb = x (BG/NBD) or x + 1 (MBG/NBD):
 *   ll = G(x) + r ln(alpha) - (r+x) ln(alpha+T) + [xb > 0] log(1 + exp(A4))
 *   G(x) = lnG(r+x) - lnG(r) + lnG(a+b) + lnG(b+xb) - lnG(b) - lnG(a+b+xb)   (A1 + A2)
 *   A4 = ln a - ln(b+xb-1) + (r+x) (ln(alpha+T) - ln(alpha+t_x))
 * Terms that depend on x only are computed once per distinct x; rows pay 1-2 logs, one
 * exp and one log1p. */
#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clv_internal.h"

#define LOG_LO (-16.0) /* search bounds on log parameters */
#define LOG_HI (16.0)
#define WARM_ROWS 60000 /* subsample size of the warm start */

typedef struct {
  double G, dGr, dGa, dGb, K, dKb, rx;
  int has4;
} xconst_t;

typedef struct {
  double ll, dr, dal, da, db;
} acc_t;

typedef struct {
  const clv_rows_t *rows;
  int mbg;
  unsigned threads;
  double W; /* total weight */
  xconst_t *xc;
  double par[4];
  acc_t part[16];
  unsigned evals;
} obj_t;

static void slice(void *vctx, unsigned ti, size_t lo, size_t hi) {
  obj_t *o = vctx;
  const clv_rows_t *R = o->rows;
  const xconst_t *xc = o->xc;
  const double alpha = o->par[1];
  acc_t a = {0, 0, 0, 0, 0};
  for (size_t i = lo; i < hi; i++) {
    const xconst_t *c = &xc[R->grp[i]];
    const double w = (double)R->w[i];
    const double aT = alpha + R->T[i];
    const double lT = log(aT);
    const double iT = 1.0 / aT;
    double ll = -c->rx * lT, dr = -lT, dal = -c->rx * iT;
    if (c->has4) {
      const double at = alpha + R->tx[i];
      const double lt = log(at);
      const double A4 = c->K + c->rx * (lT - lt);
      double s, l4;
      if (A4 > 0) {
        const double e = exp(-A4);
        l4 = A4 + log1p(e);
        s = 1.0 / (1.0 + e);
      } else {
        const double e = exp(A4);
        l4 = log1p(e);
        s = e / (1.0 + e);
      }
      ll += l4;
      dr += s * (lT - lt);
      dal += s * c->rx * (iT - 1.0 / at);
      a.da += w * s;
      a.db += w * s * c->dKb;
    }
    a.ll += w * ll;
    a.dr += w * dr;
    a.dal += w * dal;
  }
  o->part[ti] = a;
}

static void set_xconst(obj_t *o) {
  const double r = o->par[0], a = o->par[2], b = o->par[3];
  const double lgr = clv_lgamma(r), lgab = clv_lgamma(a + b), lgb = clv_lgamma(b);
  const double psr = clv_digamma(r), psab = clv_digamma(a + b), psb = clv_digamma(b);
  for (size_t g = 0; g < o->rows->ngroups; g++) {
    const double x = o->rows->xs[g], xb = x + o->mbg;
    xconst_t *c = &o->xc[g];
    c->rx = r + x;
    c->G = clv_lgamma(r + x) - lgr + lgab + clv_lgamma(b + xb) - lgb - clv_lgamma(a + b + xb);
    c->dGr = clv_digamma(r + x) - psr;
    const double psabx = clv_digamma(a + b + xb);
    c->dGa = psab - psabx;
    c->dGb = psab + clv_digamma(b + xb) - psb - psabx;
    c->has4 = xb > 0;
    if (c->has4) {
      c->K = log(a) - log(b + xb - 1);
      c->dKb = -1.0 / (b + xb - 1);
    } else {
      c->K = c->dKb = 0;
    }
  }
}

/* Log-likelihood and gradient (w.r.t. r, alpha, a, b) at o->par. */
static double eval_ll(obj_t *o, double g[4]) {
  set_xconst(o);
  unsigned th = o->threads ? o->threads : 1;
  if (th > 16) th = 16;
  memset(o->part, 0, sizeof o->part);
  clv_parallel(th, o->rows->n, 4096, slice, o);
  acc_t t = {0, 0, 0, 0, 0};
  for (unsigned i = 0; i < 16; i++) {
    t.ll += o->part[i].ll;
    t.dr += o->part[i].dr;
    t.dal += o->part[i].dal;
    t.da += o->part[i].da;
    t.db += o->part[i].db;
  }
  const double r = o->par[0], alpha = o->par[1], a = o->par[2];
  const double la = log(alpha);
  for (size_t k = 0; k < o->rows->ngroups; k++) {
    const xconst_t *c = &o->xc[k];
    const double w = o->rows->xw[k];
    t.ll += w * (c->G + r * la);
    t.dr += w * (c->dGr + la);
    t.dal += w * (r / alpha);
    t.da += 0; /* s/a term added below */
    t.db += w * c->dGb;
  }
  double dga = 0;
  for (size_t k = 0; k < o->rows->ngroups; k++) dga += o->rows->xw[k] * o->xc[k].dGa;
  if (g) {
    g[0] = t.dr;
    g[1] = t.dal;
    g[2] = dga + t.da / a;
    g[3] = t.db;
  }
  o->evals++;
  return t.ll;
}

static double ll_at(void *ctx, const double p[4]) {
  obj_t *o = ctx;
  memcpy(o->par, p, sizeof o->par);
  return eval_ll(o, NULL);
}

static double nlopt_obj(unsigned n, const double *th, double *grad, void *data) {
  obj_t *o = data;
  (void)n;
  for (int k = 0; k < 4; k++) o->par[k] = exp(th[k]);
  double g[4];
  double ll = eval_ll(o, g);
  if (!isfinite(ll)) return HUGE_VAL;
  if (grad)
    for (int k = 0; k < 4; k++) grad[k] = -o->par[k] * g[k] / o->W;
  return -ll / o->W;
}

static int run_opt(nlopt_algorithm alg, obj_t *o, double th[4], const clv_fit_opts_t *op,
                   double *fmin) {
  nlopt_opt opt = nlopt_create(alg, 4);
  if (!opt) return NLOPT_OUT_OF_MEMORY;
  double lo[4] = {LOG_LO, LOG_LO, LOG_LO, LOG_LO}, hi[4] = {LOG_HI, LOG_HI, LOG_HI, LOG_HI};
  nlopt_set_lower_bounds(opt, lo);
  nlopt_set_upper_bounds(opt, hi);
  nlopt_set_min_objective(opt, nlopt_obj, o);
  nlopt_set_xtol_rel(opt, op->xtol_rel);
  nlopt_set_ftol_rel(opt, 1e-15);
  nlopt_set_maxeval(opt, (int)op->max_eval);
  if (alg == NLOPT_LD_LBFGS) nlopt_set_vector_storage(opt, 8);
  else nlopt_set_initial_step1(opt, 0.1);
  int rc = nlopt_optimize(opt, th, fmin);
  nlopt_destroy(opt);
  return rc;
}

/* L-BFGS with analytic gradients; if its line search gives up (NLOPT_FAILURE, seen on small
 * or lumpy data), finish from where it stopped with derivative-free BOBYQA. */
static int run_lbfgs(obj_t *o, double th[4], const clv_fit_opts_t *op, double *fmin) {
  double start[4];
  memcpy(start, th, sizeof start);
  int rc = run_opt(NLOPT_LD_LBFGS, o, th, op, fmin);
  if (rc != NLOPT_FAILURE) return rc;
  for (int k = 0; k < 4; k++)
    if (!isfinite(th[k]) || th[k] <= LOG_LO || th[k] >= LOG_HI) th[k] = start[k];
  return run_opt(NLOPT_LN_BOBYQA, o, th, op, fmin);
}

clv_fit_opts_t clv_fit_opts_default(void) {
  clv_fit_opts_t o = {2, 10, 3, 1e-10, 2000, 1, 0};
  return o;
}

void clv_tx_model_set(clv_tx_model_t *m, clv_kind_t kind, double r, double alpha, double a,
                      double b, double time_unit_s) {
  memset(m, 0, sizeof *m);
  m->version = CLV_MODEL_VERSION;
  m->kind = kind;
  m->r = r;
  m->alpha = alpha;
  m->a = a;
  m->b = b;
  m->time_unit_s = time_unit_s;
  int ok = (kind == CLV_KIND_BGNBD || kind == CLV_KIND_MBGNBD || kind == CLV_KIND_PNBD) && r > 0 && alpha > 0 &&
           a > 0 && b > 0 && isfinite(r + alpha + a + b);
  m->status = ok ? CLV_OK : CLV_INVALID_INPUT;
  if (!ok) clv_set_reason(m->reason, "parameters must be finite and > 0");
}

static int fail(clv_tx_model_t *m, int status, const char *why) {
  m->status = status;
  clv_set_reason(m->reason, why);
  m->r = m->alpha = m->a = m->b = m->ll = 0;
  memset(m->se, 0, sizeof m->se);
  return status;
}

/* Validates rows; counts repeat buyers and T_max. */
static int check_rows(const clv_summary_t *s, size_t n, uint64_t *nrep, double *Tmax,
                      double *sumT, char *why) {
  *nrep = 0;
  *Tmax = 0;
  *sumT = 0;
  for (size_t i = 0; i < n; i++) {
    double tx = s[i].x ? s[i].t_x : 0.0, T = s[i].T;
    if (!isfinite(tx) || !isfinite(T) || tx < 0 || T < 0 || tx > T * (1 + 1e-12) + 1e-12) {
      snprintf(why, CLV_REASON_MAX, "row %zu: need 0 <= t_x <= T, finite", i);
      return CLV_INVALID_INPUT;
    }
    if (s[i].x) (*nrep)++;
    if (T > *Tmax) *Tmax = T;
    *sumT += T;
  }
  return CLV_OK;
}

int clv_tx_fit(clv_kind_t kind, const clv_summary_t *s, size_t n, double time_unit_s,
               const clv_fit_opts_t *opts, clv_tx_model_t *m) {
  clv_fit_opts_t op = opts ? *opts : clv_fit_opts_default();
  memset(m, 0, sizeof *m);
  m->version = CLV_MODEL_VERSION;
  m->kind = kind;
  m->time_unit_s = time_unit_s;
  m->n_customers = n;
  char why[CLV_REASON_MAX];
  if (kind != CLV_KIND_BGNBD && kind != CLV_KIND_MBGNBD && kind != CLV_KIND_PNBD)
    return fail(m, CLV_INVALID_INPUT, "unknown model kind");
  if (!s && n) return fail(m, CLV_INVALID_INPUT, "no rows");
  double sumT;
  int rc = check_rows(s, n, &m->n_repeat, &m->T_max, &sumT, why);
  if (rc != CLV_OK) return fail(m, rc, why);
  if (n < op.min_customers || n == 0) {
    snprintf(why, sizeof why, "only %zu customers (need at least %zu)", n, op.min_customers);
    return fail(m, CLV_INSUFFICIENT_DATA, why);
  }
  if (m->n_repeat == 0) return fail(m, CLV_INSUFFICIENT_DATA, "no repeat buyers (every x = 0)");
  if (m->n_repeat < op.min_repeat) {
    snprintf(why, sizeof why, "only %llu repeat buyers (need at least %zu)",
             (unsigned long long)m->n_repeat, op.min_repeat);
    return fail(m, CLV_INSUFFICIENT_DATA, why);
  }
  if (!(m->T_max > 0)) return fail(m, CLV_INSUFFICIENT_DATA, "no observation time (all T = 0)");

  clv_rows_t rows, sub;
  memset(&sub, 0, sizeof sub);
  if (clv_rows_build(&rows, s, n, 0) != CLV_OK) return fail(m, CLV_NOMEM, "out of memory");
  m->n_distinct = rows.n;
  if (kind == CLV_KIND_PNBD) {
    rc = clv__pnbd_fit(&rows, (double)n, sumT / (double)n, &op, m, why);
    clv_rows_free(&rows);
    if (rc != CLV_OK) return fail(m, rc, why);
    m->status = CLV_OK;
    m->reason[0] = '\0';
    return CLV_OK;
  }
  size_t peak = rows.peak_bytes;
  xconst_t *xc = calloc(rows.ngroups, sizeof *xc);
  if (!xc) {
    clv_rows_free(&rows);
    return fail(m, CLV_NOMEM, "out of memory");
  }
  obj_t o;
  memset(&o, 0, sizeof o);
  o.mbg = kind == CLV_KIND_MBGNBD;
  o.threads = op.threads ? op.threads : 1;
  o.xc = xc;
  double th[4] = {0.0, log(sumT / (double)n), 0.0, 0.0}, fmin = 0;

  /* Warm start: every k-th distinct row (the rows are in input order, so this is a
   * systematic sample); its optimum is a close start for the full fit. */
  if (op.warm_start && rows.n > 4 * WARM_ROWS) {
    size_t k = rows.n / WARM_ROWS, ns = rows.n / k;
    sub.n = ns;
    sub.ngroups = rows.ngroups;
    sub.tx = malloc(ns * sizeof *sub.tx);
    sub.T = malloc(ns * sizeof *sub.T);
    sub.w = malloc(ns * sizeof *sub.w);
    sub.grp = malloc(ns * sizeof *sub.grp);
    sub.xs = malloc(rows.ngroups * sizeof *sub.xs);
    sub.xw = calloc(rows.ngroups, sizeof *sub.xw);
    if (sub.tx && sub.T && sub.w && sub.grp && sub.xs && sub.xw) {
      memcpy(sub.xs, rows.xs, rows.ngroups * sizeof *sub.xs);
      double W = 0;
      for (size_t j = 0; j < ns; j++) {
        size_t i = j * k;
        sub.tx[j] = rows.tx[i];
        sub.T[j] = rows.T[i];
        sub.w[j] = rows.w[i];
        sub.grp[j] = rows.grp[i];
        sub.xw[rows.grp[i]] += rows.w[i];
        W += rows.w[i];
      }
      o.rows = &sub;
      o.W = W;
      clv_fit_opts_t wop = op;
      wop.xtol_rel = 1e-6;
      run_lbfgs(&o, th, &wop, &fmin);
      for (int j = 0; j < 4; j++)
        if (!isfinite(th[j]) || th[j] <= LOG_LO || th[j] >= LOG_HI)
          th[j] = j == 1 ? log(sumT / (double)n) : 0.0;
    }
    clv_rows_free(&sub);
  }
  o.rows = &rows;
  o.W = (double)n;
  int nrc = run_lbfgs(&o, th, &op, &fmin);
  m->iterations = o.evals;
  m->work_bytes = peak > rows.bytes + rows.ngroups * sizeof *xc
                      ? peak
                      : rows.bytes + rows.ngroups * sizeof *xc;
  for (int k = 0; k < 4; k++) o.par[k] = exp(th[k]);
  double ll = eval_ll(&o, NULL);
  const double best[4] = {o.par[0], o.par[1], o.par[2], o.par[3]};
  if (isfinite(ll) && op.std_errors) clv__std_errors(ll_at, &o, best, ll, m->se);
  memcpy(o.par, best, sizeof o.par);
  free(xc);
  clv_rows_free(&rows);
  if (nrc < 0 && nrc != NLOPT_ROUNDOFF_LIMITED) {
    snprintf(why, sizeof why, "optimiser failed (nlopt code %d)", nrc);
    return fail(m, nrc == NLOPT_OUT_OF_MEMORY ? CLV_NOMEM : CLV_NOT_CONVERGED, why);
  }
  if (!isfinite(ll)) return fail(m, CLV_NOT_CONVERGED, "log-likelihood is not finite");
  static const char *const names[4] = {"r", "alpha", "a", "b"};
  for (int k = 0; k < 4; k++) {
    if (!isfinite(th[k]) || th[k] <= LOG_LO + 0.5 || th[k] >= LOG_HI - 0.5) {
      snprintf(why, sizeof why,
               "parameter %s ran to its bound (%g): the data do not identify the model",
               names[k], o.par[k]);
      return fail(m, CLV_NOT_CONVERGED, why);
    }
  }
  m->r = o.par[0];
  m->alpha = o.par[1];
  m->a = o.par[2];
  m->b = o.par[3];
  m->ll = ll;
  m->status = CLV_OK;
  m->reason[0] = '\0';
  return CLV_OK;
}

double clv_tx_loglik(clv_kind_t kind, const clv_summary_t *s, size_t n, const double par[4],
                     double grad[4]) {
  clv_rows_t rows;
  if (clv_rows_build(&rows, s, n, 0) != CLV_OK) return -HUGE_VAL;
  if (kind == CLV_KIND_PNBD) {
    const double ll = clv__pnbd_loglik(&rows, par);
    for (int k = 0; grad && k < 4; k++) { /* central differences */
      double q[4];
      memcpy(q, par, sizeof q);
      const double h = 1e-6 * par[k];
      q[k] = par[k] + h;
      const double fp = clv__pnbd_loglik(&rows, q);
      q[k] = par[k] - h;
      grad[k] = (fp - clv__pnbd_loglik(&rows, q)) / (2 * h);
    }
    clv_rows_free(&rows);
    return ll;
  }
  obj_t o;
  memset(&o, 0, sizeof o);
  o.rows = &rows;
  o.mbg = kind == CLV_KIND_MBGNBD;
  o.threads = 1;
  o.W = (double)n;
  o.xc = calloc(rows.ngroups ? rows.ngroups : 1, sizeof *o.xc);
  double ll = -HUGE_VAL;
  if (o.xc) {
    memcpy(o.par, par, sizeof o.par);
    ll = eval_ll(&o, grad);
  }
  free(o.xc);
  clv_rows_free(&rows);
  return ll;
}
