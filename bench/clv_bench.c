/* clv_bench.c -- benchmark of the CLV core: draws synthetic customers from a BG/NBD
 * process with known parameters (continuous recency and age, so grouping barely helps)
 * plus Gamma-Gamma spend, fits BG/NBD + Gamma-Gamma, checks the parameters are recovered,
 * and times the fits and the bulk scoring (P(alive) + E[Y] + CLV) of every customer.
 * Usage: clv_bench [customers ...]   (default: 100000 1000000); env CLV_BENCH_THREADS.
 * Owns nothing shared; prints its figures and the command line. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clv/clv.h"

/* --- xoshiro256** seeded with splitmix64 (own implementation of the published algorithms) */
typedef struct { uint64_t s[4]; } rng_t;
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next_u64(rng_t *r) {
  uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
  return res;
}
static void seed(rng_t *r, uint64_t x) {
  for (int i = 0; i < 4; i++) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    r->s[i] = z ^ (z >> 31);
  }
}
static double unif(rng_t *r) { return ((next_u64(r) >> 11) + 0.5) * 0x1.0p-53; } /* (0,1) */
static double normal(rng_t *r) {
  double u = unif(r), v = unif(r);
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}
/* Gamma(shape k, scale 1): Marsaglia & Tsang; k < 1 via G(k+1) U^(1/k). */
static double gamma_rv(rng_t *r, double k) {
  if (k < 1) return gamma_rv(r, k + 1) * pow(unif(r), 1.0 / k);
  double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
  for (;;) {
    double z = normal(r), v = 1 + c * z;
    if (v <= 0) continue;
    v = v * v * v;
    double u = unif(r);
    if (log(u) < 0.5 * z * z + d - d * v + d * log(v)) return d * v;
  }
}

typedef struct { double r, alpha, a, b, p, q, gamma; } truth_t;

static void simulate(rng_t *g, const truth_t *tr, size_t n, clv_summary_t *s) {
  for (size_t i = 0; i < n; i++) {
    double lambda = gamma_rv(g, tr->r) / tr->alpha;
    double ga = gamma_rv(g, tr->a), gb = gamma_rv(g, tr->b), pdrop = ga / (ga + gb);
    double T = 1.0 + 77.0 * unif(g); /* age: continuous, 1..78 weeks */
    double t = 0, tx = 0;
    uint32_t x = 0;
    for (;;) {
      t += -log(unif(g)) / lambda;
      if (t > T) break;
      x++;
      tx = t;
      if (unif(g) < pdrop) break; /* drop-out after a repeat purchase */
    }
    double spend = 0;
    if (x) { /* Gamma-Gamma: nu ~ Gamma(q, gamma) (rate), z_j ~ Gamma(p, nu) */
      double nu = gamma_rv(g, tr->q) / tr->gamma, sum = 0;
      for (uint32_t j = 0; j < x; j++) sum += gamma_rv(g, tr->p) / nu;
      spend = sum / x;
    }
    s[i].x = x; s[i].t_x = tx; s[i].T = T; s[i].mean_spend = spend;
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median3(double *v) { qsort(v, 3, sizeof *v, cmpd); return v[1]; }

int main(int argc, char **argv) {
  size_t sizes[8] = {100000, 1000000};
  int nsizes = 2;
  if (argc > 1) {
    nsizes = 0;
    for (int i = 1; i < argc && nsizes < 8; i++) sizes[nsizes++] = strtoull(argv[i], NULL, 10);
  }
  const char *te = getenv("CLV_BENCH_THREADS");
  unsigned threads = te ? (unsigned)atoi(te) : 2;
  const truth_t tr = {0.243, 4.414, 0.793, 2.426, 6.25, 3.74, 15.44};
  printf("command:");
  for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
  printf("\nnproc: %ld, threads: %u, true BG/NBD r=%.3f alpha=%.3f a=%.3f b=%.3f, "
         "GG p=%.2f q=%.2f gamma=%.2f\n", sysconf(_SC_NPROCESSORS_ONLN), threads, tr.r,
         tr.alpha, tr.a, tr.b, tr.p, tr.q, tr.gamma);
  int bad = 0;
  for (int si = 0; si < nsizes; si++) {
    size_t n = sizes[si];
    clv_summary_t *s = malloc(n * sizeof *s);
    clv_score_t *sc = malloc(n * sizeof *sc);
    if (!s || !sc) return 1;
    rng_t g;
    seed(&g, 42 + n);
    simulate(&g, &tr, n, s);
    uint32_t xmax = 0;
    for (size_t i = 0; i < n; i++) if (s[i].x > xmax) xmax = s[i].x;
    clv_fit_opts_t op = clv_fit_opts_default();
    op.threads = threads;
    double tb[3], tg[3], tp[3], ts[3], cb[3], cs[3];
    clv_tx_model_t m;
    clv_spend_model_t gg;
    for (int rep = 0; rep < 3; rep++) {
      double c0 = cpu_s(), t0 = now_s();
      clv_tx_fit(CLV_KIND_BGNBD, s, n, CLV_SECONDS_PER_WEEK, &op, &m);
      double t1 = now_s();
      clv_spend_fit(s, n, &op, &gg);
      double t2 = now_s(), c2 = cpu_s();
      double hz[3] = {30 / 7.0, 90 / 7.0, 365 / 7.0};
      clv_plan_t *pl = clv_plan_new(&m, &gg, NULL, hz, 3, 78.0, xmax);
      double t3 = now_s(), c3 = cpu_s();
      clv_score_many(pl, s, n, threads, sc);
      double t4 = now_s(), c4 = cpu_s();
      cb[rep] = c2 - c0;
      cs[rep] = c4 - c3;
      clv_plan_free(pl);
      tb[rep] = t1 - t0; tg[rep] = t2 - t1; tp[rep] = t3 - t2; ts[rep] = t4 - t3;
    }
    /* reference: strict single-thread fit without warm start, tighter tolerance */
    clv_fit_opts_t strict = clv_fit_opts_default();
    strict.threads = 1; strict.warm_start = 0; strict.xtol_rel = 1e-13;
    clv_tx_model_t ms;
    clv_tx_fit(CLV_KIND_BGNBD, s, n, CLV_SECONDS_PER_WEEK, &strict, &ms);
    double dmax = 0, est[4] = {m.r, m.alpha, m.a, m.b}, ref[4] = {ms.r, ms.alpha, ms.a, ms.b};
    for (int k = 0; k < 4; k++) dmax = fmax(dmax, fabs(est[k] / ref[k] - 1));
    /* spot-check the plan against the exact single-customer formulas */
    clv_value_opts_t vo = clv_value_opts_default();
    double cmax = 0;
    for (size_t i = 0; i < n; i += n / 997 + 1) {
      double ex = clv_value(&m, &gg, &vo, &s[i]);
      cmax = fmax(cmax, fabs(sc[i].clv - ex) / fmax(fabs(ex), 1e-9));
    }
    /* recovery of the generating parameters (sampling error ~ 1/sqrt(n)) */
    const double tv[7] = {tr.r, tr.alpha, tr.a, tr.b, tr.p, tr.q, tr.gamma};
    const double fv[7] = {m.r, m.alpha, m.a, m.b, gg.p, gg.q, gg.gamma};
    double rec_bg = 0, rec_gg = 0;
    for (int k = 0; k < 4; k++) rec_bg = fmax(rec_bg, fabs(fv[k] / tv[k] - 1));
    for (int k = 4; k < 7; k++) rec_gg = fmax(rec_gg, fabs(fv[k] / tv[k] - 1));
    const double rec_tol = 10.0 / sqrt((double)n) > 0.01 ? 10.0 / sqrt((double)n) : 0.01;
    double dbt = median3(tb), dgt = median3(tg), dpt = median3(tp), dst = median3(ts);
    printf("\nn=%zu distinct rows=%llu repeat=%llu max x=%u\n", n,
           (unsigned long long)m.n_distinct, (unsigned long long)m.n_repeat, xmax);
    printf("  BG/NBD  status=%s r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.1f evals=%u\n",
           clv_status_name(m.status), m.r, m.alpha, m.a, m.b, m.ll, m.iterations);
    printf("  GG      status=%s p=%.3f q=%.3f gamma=%.3f evals=%u\n",
           clv_status_name(gg.status), gg.p, gg.q, gg.gamma, gg.iterations);
    printf("  recovery: max rel error vs true parameters BG/NBD %.4f (allowed %.3f), "
           "GG %.4f (allowed %.3f)\n", rec_bg, 2 * rec_tol, rec_gg, 3 * rec_tol);
    printf("  fit vs strict 1-thread fit: max rel diff %.2e (need <= 1e-3)\n", dmax);
    printf("  plan vs exact CLV on %zu customers: max rel diff %.2e\n", n / (n / 997 + 1), cmax);
    printf("  median of 3: BG/NBD fit %.3f s, GG fit %.3f s, total fit %.3f s wall "
           "(%.3f s CPU, all threads)\n", dbt, dgt, dbt + dgt, median3(cb));
    printf("  working set: BG/NBD %.1f bytes/customer, GG %.1f bytes/customer\n",
           (double)m.work_bytes / n, (double)gg.work_bytes / n);
    printf("  scoring (P(alive), E[Y] at 30/90/365 d, spend, CLV 12 months): plan build %.4f s, "
           "score %.4f s wall (%.1f ns/customer; %.4f s CPU)\n", dpt, dst, dst * 1e9 / n,
           median3(cs));
    if (m.status != CLV_OK || gg.status != CLV_OK || dmax > 1e-3 || cmax > 1e-6 ||
        rec_bg > 2 * rec_tol || rec_gg > 3 * rec_tol)
      bad = 1;
    free(s);
    free(sc);
  }
  return bad;
}
