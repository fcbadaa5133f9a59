/* bandit.c -- Thompson sampling (see bandit.h): xoshiro256** uniforms, Box-Muller normals,
 * Marsaglia-Tsang gammas, Beta as a gamma ratio. Invariant: all randomness comes from the
 * caller's bandit_rng_t. */
#include "experiments/bandit.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(bandit_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

void bandit_rng_seed(bandit_rng_t *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) { /* splitmix64 expands the seed */
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    r->s[i] = z ^ (z >> 31);
  }
}

double bandit_uniform(bandit_rng_t *r) {
  return ((double)(next_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double bandit_normal(bandit_rng_t *r) {
  double u = bandit_uniform(r), v = bandit_uniform(r);
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

double bandit_gamma(bandit_rng_t *r, double shape) {
  if (shape < 1) /* boost: Gamma(a) = Gamma(a + 1) * U^(1/a) */
    return bandit_gamma(r, shape + 1) * pow(bandit_uniform(r), 1 / shape);
  double d = shape - 1.0 / 3, c = 1 / sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      x = bandit_normal(r);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    double u = bandit_uniform(r);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
  }
}

double bandit_beta(bandit_rng_t *r, double a, double b) {
  double x = bandit_gamma(r, a), y = bandit_gamma(r, b);
  return x / (x + y);
}

static double revenue_draw(const stats_arm_t *a, double pooled_mean, double pooled_var,
                           bandit_rng_t *r) {
  if (a->exposures < 2) return pooled_mean + sqrt(pooled_var) * bandit_normal(r);
  double n = (double)a->exposures, m = (double)a->revenue / n;
  double s2 = (a->revenue_sumsq - n * m * m) / (n - 1);
  return m + sqrt(s2 > 0 ? s2 / n : 0) * bandit_normal(r);
}

int bandit_pick(const stats_arm_t *arms, int k, bandit_reward_t reward, bandit_rng_t *r) {
  if (k < 1) return -1;
  double pooled_mean = 0, pooled_var = 0;
  if (reward == BANDIT_REVENUE) {
    double n = 0, sum = 0, sumsq = 0;
    for (int i = 0; i < k; i++) {
      n += (double)arms[i].exposures;
      sum += (double)arms[i].revenue;
      sumsq += arms[i].revenue_sumsq;
    }
    pooled_mean = n > 0 ? sum / n : 0;
    pooled_var = n > 1 ? (sumsq - n * pooled_mean * pooled_mean) / (n - 1) : 0;
    if (pooled_var < 0) pooled_var = 0;
  }
  int best = 0;
  double best_draw = -INFINITY;
  for (int i = 0; i < k; i++) {
    const stats_arm_t *a = &arms[i];
    double draw;
    if (reward == BANDIT_REVENUE) {
      draw = revenue_draw(a, pooled_mean, pooled_var, r);
    } else {
      int64_t c = a->conversions < 0 ? 0 : a->conversions;
      int64_t f = a->exposures > c ? a->exposures - c : 0;
      draw = bandit_beta(r, 1 + (double)c, 1 + (double)f);
    }
    if (draw > best_draw) best = i, best_draw = draw;
  }
  return best;
}
