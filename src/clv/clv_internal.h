/* clv_internal.h -- helpers shared by the src/clv C files (not part of the public API):
 * special functions, the row grouping hash, and a tiny parallel-for over row ranges.
 * Invariants: every helper is pure or works only on memory it is handed. */
#ifndef PATRON_CLV_INTERNAL_H
#define PATRON_CLV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "clv.h"

/* log Gamma(x) for x > 0 (thread-safe: lgamma_r, the sign is discarded). */
double clv_lgamma(double x);
/* digamma psi(x) for x > 0: recurrence to x >= 6, then the asymptotic series. */
double clv_digamma(double x);
/* log(1 + exp(a)) and the logistic 1/(1+exp(-a)) without overflow. */
double clv_log1pexp(double a);
double clv_sigmoid(double a);

/* clv_hyp2f1 with a term budget (clv.h): *ok = 0 when max_terms did not converge. */
double clv__hyp2f1_n(double a, double b, double c, double z, long max_terms, int *ok);

/* Grouped rows: distinct (x, t_x, T) (or (x, m_x)) with integer weights.
 * grp[i] indexes the per-x constants table; xs[g] is the x of group g. */
typedef struct clv_rows_s {
  size_t n;          /* distinct rows */
  double *tx;        /* t_x, or the spend m_x for Gamma-Gamma */
  double *T;         /* T (unused, NULL, for Gamma-Gamma) */
  uint32_t *w;       /* multiplicity */
  uint32_t *grp;     /* index into xs */
  size_t ngroups;
  uint32_t *xs;      /* distinct x values */
  double *xw;        /* total weight per x group */
  size_t bytes;      /* heap bytes held (for work_bytes) */
  size_t peak_bytes; /* peak heap bytes while grouping */
} clv_rows_t;

/* Groups rows. mode 0: key (x, t_x, T) from every row (x = 0 rows get t_x = 0);
 * mode 1 (spend): key (x, mean_spend) over rows with x > 0 and mean_spend > 0.
 * Returns CLV_OK or CLV_NOMEM. */
int clv_rows_build(clv_rows_t *r, const clv_summary_t *s, size_t n, int mode);
void clv_rows_free(clv_rows_t *r);

/* Runs fn(ctx, i, lo, hi) for `threads` (<= 16) contiguous slices of [0, n); i = slice
 * index; slice 0 runs on the calling thread. Runs everything inline when threads <= 1 or
 * n < min_n. Returns 0. */
typedef void (*clv_slice_fn)(void *ctx, unsigned i, size_t lo, size_t hi);
int clv_parallel(unsigned threads, size_t n, size_t min_n, clv_slice_fn fn, void *ctx);

/* predict.c internals shared with score.c:
 * F(t; r, alpha, a, b), the expected purchases of a fresh process (0 for t <= 0);
 * one month in model units (0 if unknown);
 * sum_{k=1..H} (F(kL) - F((k-1)L)) / (1+d)^k. */
/* 1 if m is a usable model: right version, status CLV_OK, finite positive parameters. */
int clv__tx_ok(const clv_tx_model_t *m);
double clv__fresh(double t, double r, double al, double a, double b);
double clv__month_units(const clv_tx_model_t *m, const clv_value_opts_t *o);
double clv__discounted(double r, double al, double a, double b, unsigned H, double L, double d);

/* clv_hessian.c: standard errors from the numerical Hessian of ll(ctx, p) at the optimum p
 * (f0 = ll there); se[] all 0 when -H is not positive definite. */
void clv__std_errors(double (*ll)(void *ctx, const double p[4]), void *ctx, const double p[4],
                     double f0, double se[4]);

/* pnbd.c: Pareto/NBD fit on grouped rows (total weight W; mean_T seeds alpha and beta),
 * filling r, alpha, a = s, b = beta, ll, se, iterations, work_bytes of *m; returns a
 * clv_status_t with why set on failure. Grouped log-likelihood at par = (r, alpha, s, beta).
 * P(alive) and the expected purchases in (T, T+t] of a customer alive at T. */
int clv__pnbd_fit(const clv_rows_t *rows, double W, double mean_T, const clv_fit_opts_t *op,
                  clv_tx_model_t *m, char *why);
double clv__pnbd_loglik(const clv_rows_t *rows, const double par[4]);
double clv__pnbd_p_alive(const clv_tx_model_t *m, uint32_t x, double t_x, double T);
double clv__pnbd_fresh(const clv_tx_model_t *m, double t, uint32_t x, double T);

/* Status helper: sets status and a reason. */
void clv_set_reason(char *dst, const char *msg);

#endif
