/* clv_hessian.c -- standard errors of fitted parameters: the numerical Hessian of the
 * log-likelihood at the optimum (central differences in the natural parameters, relative
 * step 1e-4), negated and inverted (Cholesky); se_i = sqrt((-H)^-1_ii).
 * Invariants: pure; se[] is all zero when -H is not positive definite (the optimum is not a
 * proper maximum, e.g. a flat direction), never NaN. */
#include <math.h>
#include <string.h>

#include "clv_internal.h"

#define NP 4
#define REL_STEP 1e-4

/* Inverts the symmetric positive definite a (n x n) in place; 0 ok, -1 not PD. */
static int spd_inverse(double a[NP][NP]) {
  double L[NP][NP] = {{0}};
  for (int i = 0; i < NP; i++)
    for (int j = 0; j <= i; j++) {
      double s = a[i][j];
      for (int k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      if (i == j) {
        if (!(s > 0)) return -1;
        L[i][i] = sqrt(s);
      } else {
        L[i][j] = s / L[j][j];
      }
    }
  /* inverse of L (lower triangular), then A^-1 = L^-T L^-1 */
  double Li[NP][NP] = {{0}};
  for (int i = 0; i < NP; i++) {
    Li[i][i] = 1.0 / L[i][i];
    for (int j = 0; j < i; j++) {
      double s = 0;
      for (int k = j; k < i; k++) s -= L[i][k] * Li[k][j];
      Li[i][j] = s / L[i][i];
    }
  }
  for (int i = 0; i < NP; i++)
    for (int j = 0; j < NP; j++) {
      double s = 0;
      for (int k = (i > j ? i : j); k < NP; k++) s += Li[k][i] * Li[k][j];
      a[i][j] = s;
    }
  return 0;
}

void clv__std_errors(double (*ll)(void *ctx, const double p[4]), void *ctx, const double p[4],
                     double f0, double se[4]) {
  double h[NP], H[NP][NP], q[NP];
  memset(se, 0, NP * sizeof *se);
  for (int i = 0; i < NP; i++) h[i] = REL_STEP * p[i];
  for (int i = 0; i < NP; i++) {
    memcpy(q, p, sizeof q);
    q[i] = p[i] + h[i];
    const double fp = ll(ctx, q);
    q[i] = p[i] - h[i];
    const double fm = ll(ctx, q);
    H[i][i] = (fp - 2 * f0 + fm) / (h[i] * h[i]);
    for (int j = 0; j < i; j++) {
      double f[4];
      for (int k = 0; k < 4; k++) {
        memcpy(q, p, sizeof q);
        q[i] = p[i] + (k & 1 ? -h[i] : h[i]);
        q[j] = p[j] + (k & 2 ? -h[j] : h[j]);
        f[k] = ll(ctx, q);
      }
      H[i][j] = H[j][i] = (f[0] - f[1] - f[2] + f[3]) / (4 * h[i] * h[j]);
    }
  }
  for (int i = 0; i < NP; i++)
    for (int j = 0; j < NP; j++) {
      H[i][j] = -H[i][j];
      if (!isfinite(H[i][j])) return;
    }
  if (spd_inverse(H)) return;
  for (int i = 0; i < NP; i++) {
    if (!(H[i][i] > 0)) {
      memset(se, 0, NP * sizeof *se);
      return;
    }
    se[i] = sqrt(H[i][i]);
  }
}
