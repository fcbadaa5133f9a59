/* bandit.h -- Thompson sampling over an offer's variants (issue 9: "a Thompson-sampling bandit
 * over variants, reward conversion or revenue"). The caller owns the random state, so a
 * decision is reproducible from its seed and the core keeps no global state.
 *
 * Conversion reward: each arm's rate has the posterior Beta(1 + c, 1 + n - c) (uniform
 * prior); one draw per arm, the largest wins. Beta(a, b) = G_a / (G_a + G_b) with G gamma
 * variates (Marsaglia and Tsang 2000, with the a < 1 boost U^(1/a)).
 * Revenue reward: each arm's revenue per exposed customer has the normal posterior
 * N(m, s^2/n) (flat prior, the moments of stats.h); an arm with fewer than 2 exposures is
 * drawn from N(m_all, s2_all) of all arms pooled so new arms get explored.
 * Sticky assignment is the caller's job: draw once per customer and store the arm.
 * Invariants: pure functions of (arms, state); no allocation. */
#ifndef PATRON_BANDIT_H
#define PATRON_BANDIT_H

#include <stdint.h>

#include "experiments/stats.h"

typedef struct bandit_rng_s {
  uint64_t s[4]; /* xoshiro256** state; seed with bandit_rng_seed */
} bandit_rng_t;

void bandit_rng_seed(bandit_rng_t *r, uint64_t seed);
/* Uniform in (0, 1). */
double bandit_uniform(bandit_rng_t *r);
double bandit_normal(bandit_rng_t *r);
/* Gamma(shape, 1), shape > 0. */
double bandit_gamma(bandit_rng_t *r, double shape);
double bandit_beta(bandit_rng_t *r, double a, double b);

typedef enum { BANDIT_CONVERSION = 0, BANDIT_REVENUE = 1 } bandit_reward_t;

/* The arm chosen by one Thompson draw over k arms (0..k-1), or -1 when k < 1. */
int bandit_pick(const stats_arm_t *arms, int k, bandit_reward_t reward, bandit_rng_t *r);

#endif
